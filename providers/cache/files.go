package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
)

// fileMode is the mode of the files the provider writes: the agent's
// configuration holds no secret, and operators read both.
const fileMode fs.FileMode = 0o644

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
