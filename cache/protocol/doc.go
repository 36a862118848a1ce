// Package protocol is the wire format of the cache agent's unix socket:
// requests from CI jobs, and the agent's answers. It only encodes and
// decodes; sockets, deadlines and peers belong to the agent.
//
// The request format is the one of the original lvm-cache-friend setup, so
// a plain ncat heredoc in a workflow works unchanged:
//
//	ncat -U /run/rigplan-cache/socket <<EOF
//	mount /home/runner/cache
//	> linux ${{ hashFiles('Cargo.lock') }}
//	> linux ${{ github.ref_name }}
//	> linux
//	< linux ${{ github.ref_name }} ${{ hashFiles('Cargo.lock') }}
//	EOF
//
// and prints the answer, for example
//
//	ok	/home/runner/cache	> linux main	rigplan-cache-0042
//
// # Requests
//
// A request is UTF-8 text in lines ending in "\n" or "\r\n". Every line,
// the last one included, must end in a newline: a request that stops
// mid-line was most likely cut short, and half a path must not be mounted.
// Lines may not hold control characters other than tab.
//
// Spaces and tabs at the start and end of every line are ignored, because
// heredocs inside YAML and shell scripts are often indented. A line whose
// first other character is '#' is a comment. Comments are whole lines only:
// '#' anywhere else is an ordinary character (a term may be "C#"), and a
// term that is "#" alone is refused, since "> linux  # note" is almost
// surely meant as a comment.
//
// Blank lines before the command are skipped. The request ends at the
// first blank line after the command, or at EOF; the agent waits for
// nothing after that blank line, so a client that cannot close its write
// side ends the request with an empty line instead. What has already
// arrived after it may only be blank lines and comments: a stray blank
// line between mount and its criteria would otherwise drop them silently
// and mount the default volume, so such a request is refused with a
// reason instead. A connection carries one request; the agent answers
// and closes.
//
// The first line is the command. Its word and its argument are separated by
// spaces or tabs:
//
//	mount PATH            snapshot the best matching cache, mount it at PATH
//	save PATH             seal the cache mounted at PATH now
//	ls                    list the snapshots
//	echo TEXT             answer TEXT, to find where answers end
//	stats                 report counters
//	gc [dry-run]          run retention now (host root only)
//	rm NAME               delete one snapshot (host root only)
//	runner-config         the machine's runner's just-in-time config:
//	                      ok CONFIG NAME (for run.sh --jitconfig CONFIG)
//	registration-token    a registration token for config.sh: ok TOKEN URL
//	                      NAME LABELS GROUP FLAGS
//
// PATH is one word: absolute, clean (no "." or ".." segments, no doubled or
// trailing slash), not "/" and at most 4096 bytes. The agent further
// checks it against the machine's allowed prefixes. TEXT is the rest of the
// line, internal spaces and tabs included, and may be empty.
//
// After mount, and only after mount, come
//
//	> TERM TERM ...   a criterion; criteria are tried in the order written
//	< TERM TERM ...   annotations for the new snapshot; several lines add up
//
// A save may be followed by "<" lines too: annotations for the sealed
// copy it makes (without them, the copy keeps the saved snapshot's).
//
// NAME (rm) is one word of at most 255 bytes; the agent checks it against
// its store's naming rules. gc takes nothing or the word dry-run.
//
// Terms are separated by runs of spaces and tabs (other Unicode spaces
// are part of a term) and may follow the marker without a space (">linux").
// A term is any other text up to 1024 bytes: branch names with "/",
// unicode, long hashes. The store encodes terms into LVM's tag alphabet
// and hashes overlong ones; this format does not care.
//
// A criterion matches a snapshot that carries every one of its terms, in
// any order. The newest sealed snapshot not in use that matches the first
// matching criterion is copied; with no match, the default volume is. A
// ">" line without terms is an empty criterion: it matches any sealed
// snapshot, so it belongs last, if anywhere.
//
// A request holds at most 64 KiB, 32 criteria of at most 32 terms each and
// 32 annotations (see Limits). The agent also bounds the time a client may
// take to send it.
//
// # Answers
//
// The agent always answers, then closes the connection. An answer is zero
// or more data lines, then exactly one status line, which is either
//
//	ok[<TAB>FIELD]...
//	error<TAB>REASON
//
// Every line starts with a word and ends in "\n"; fields follow, each
// after a tab. REASON says what is wrong and what to write instead, with
// the request's line number when one line is at fault ("line 3: term ...").
// Inside fields, backslash, tab, newline and carriage return are written as
// \\ \t \n \r, other control bytes and bytes that are not UTF-8 as \xHH,
// and the C1 controls and U+2028/U+2029 as \uHHHH, so a field never breaks
// its line (see EscapeField).
//
// The ok line of each command:
//
//	mount    ok PATH CRITERION SNAPSHOT
//	save     ok PATH SNAPSHOT
//	echo     ok TEXT
//	ls       ok
//	stats    ok
//	gc       ok MODE COUNT    (MODE: deleted or dry-run)
//	rm       ok SNAPSHOT
//
// CRITERION is the criterion that matched as the request wrote it, marker
// included ("> linux main", or ">" for an empty criterion), or "default"
// when none matched and the default volume was copied. The marker keeps a
// criterion of the single term "default" apart from the default volume.
//
// Data lines come before the status line. Each starts with a lower-case tag
// word other than ok and error; clients skip tags they do not know, and
// ignore fields after the ones they know, so lines can grow. ls writes one
// line per snapshot:
//
//	snapshot NAME CREATED STATE ORIGIN ANNOTATIONS MACHINE
//
// CREATED is RFC 3339 in UTC ("2024-05-01T12:00:00Z"). STATE is "sealed"
// (a candidate for mounts), "in-use" (mounted in a live machine, never an
// origin), "sealed,in-use", or "-" (never sealed: waiting for GC). ORIGIN is
// the snapshot or volume it was copied from, or "-" when that is gone.
// ANNOTATIONS are its terms joined by single spaces, possibly none.
// MACHINE is the machine it is or was last mounted in, or "-".
//
// stats writes one line per counter:
//
//	stat KEY VALUE
//
// gc writes one line per snapshot it deleted (or, with dry-run, would
// delete), and one per snapshot it meant to delete but could not:
//
//	delete NAME REASON
//	keep NAME REASON
//
// # Robustness
//
// A bad line gets an error answer naming the line, never a dropped
// connection. Unknown commands, a missing or relative PATH, ".." in it,
// control bytes, overlong terms, too many criteria, a request over the
// size limit, one not finished in time, and one cut off mid-line are all
// answered with an error line (if the client is still there to read it).
package protocol
