package nspawn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rigplan/rigplan/schema"
)

// rootMark is the mark of a machine's root directory, kept in
// /var/lib/rigplan/machines/NAME: whose root it is and what it was
// unpacked from, with which ownership.
type rootMark struct {
	addr   schema.Address
	marked bool
	// image is the layout unpacked, digest its manifest digest.
	image, digest string
	// shift is the uid base the files were shifted by, 0 for none.
	shift uint32
	// Settings kept only here: nested_podman and job_wait.
	nestedPodman bool
	jobWait      string
}

func renderMark(m rootMark) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%s\n", markPrefix, m.addr)
	fmt.Fprintf(&b, "image %s\ndigest %s\nshift %d\nnested_podman %t\njob_wait %s\n", m.image, m.digest, m.shift, m.nestedPodman, m.jobWait)
	return b.Bytes()
}

func parseMark(b []byte) (rootMark, error) {
	pm := readMark(b)
	m := rootMark{marked: pm.marked, addr: pm.addr}
	if !pm.marked {
		return m, nil
	}
	if pm.addrErr != nil {
		return m, pm.addrErr
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan()
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "image":
			m.image = v
		case "digest":
			m.digest = v
		case "shift":
			if _, err := fmt.Sscanf(v, "%d", &m.shift); err != nil {
				return m, fmt.Errorf("shift %q: %w", v, err)
			}
		case "nested_podman":
			m.nestedPodman = v == "true"
		case "job_wait":
			m.jobWait = v
		}
	}
	return m, sc.Err()
}

// layoutDigest reads the manifest digest of the only image in an OCI
// layout, or "" when there is no layout there (yet).
func layoutDigest(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return "", fmt.Errorf("%s/index.json: %w", dir, err)
	}
	if len(idx.Manifests) != 1 {
		return "", fmt.Errorf("%s holds %d images, not one", dir, len(idx.Manifests))
	}
	return idx.Manifests[0].Digest, nil
}
