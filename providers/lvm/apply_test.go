package lvm

import (
	"strings"
	"testing"
)

func TestUserTagChangeKeepsRigplanMarks(t *testing.T) {
	current := []string{"rigplan:managed", "rigplan:addr:volume.x", "rigplan:owner=0:0", "rigplan:cache:linux", "old", "keep"}
	add, del := userTagChange(current, []string{"keep", "new"})
	if strings.Join(add, ",") != "new" || strings.Join(del, ",") != "old" {
		t.Errorf("add %v, del %v", add, del)
	}
	if got := strings.Join(tagArgs(add, del), " "); got != "--addtag new --deltag old" {
		t.Errorf("tagArgs = %q", got)
	}
}

func TestOwnerMatches(t *testing.T) {
	m := parseMarks([]string{ownerTag(1000, 100), modeTag(0o755)})
	for _, tt := range []struct {
		o    owner
		want bool
	}{
		{owner{1000, 100, ""}, true},
		{owner{1000, 100, "755"}, true},
		{owner{1000, 100, "0750"}, false},
		{owner{0, 100, ""}, false},
	} {
		if got := ownerMatches(tt.o, m); got != tt.want {
			t.Errorf("ownerMatches(%+v) = %v", tt.o, got)
		}
	}
	if ownerMatches(owner{0, 0, ""}, parseMarks(nil)) {
		t.Error("an unrecorded owner matches")
	}
}

func TestDescribeSignatureCaptured(t *testing.T) {
	if got := describeSignature(readTestdata(t, "blkid-ext4.txt")); got != "a filesystem signature (ext4)" {
		t.Errorf("got %q", got)
	}
	if got := describeSignature([]byte("DEVNAME=/dev/sdb\nPTUUID=1234\nPTTYPE=gpt\n")); got != "a partition table (gpt)" {
		t.Errorf("got %q", got)
	}
}
