package podman

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/rigplan/rigplan/schema"
)

// markerFile is the ownership mark in every image directory rigplan made.
// Its first line says so for a person; the JSON after it records what the
// image was made from.
const markerFile = "rigplan-image"

// markerHeader starts the first line; the address follows.
const markerHeader = "# rigplan:managed "

// marker is an image directory's ownership mark and record.
type marker struct {
	Addr schema.Address `json:"-"`
	// Source and Build are the configuration the image was made with, as
	// cty JSON of the schema's types.
	Source json.RawMessage `json:"source"`
	Build  json.RawMessage `json:"build"`
	// SourceDigest and Digest are the state attributes of the same names.
	SourceDigest string `json:"source_digest"`
	Digest       string `json:"digest"`
	// PodmanImage is the ID of the image a build left in podman's storage
	// (tagged localhost/rigplan/NAME), removed when it is superseded.
	PodmanImage string `json:"podman_image,omitempty"`
}

// errNoMarker means the directory carries no mark: rigplan did not make it.
var errNoMarker = errors.New("no ownership mark")

// readMarker reads the mark of the image directory dir.
func readMarker(dir string) (*marker, error) {
	b, err := os.ReadFile(filepath.Join(dir, markerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoMarker
	}
	if err != nil {
		return nil, err
	}
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	addrText, ok := strings.CutPrefix(string(first), markerHeader)
	if !ok {
		return nil, fmt.Errorf("%s does not start with %q", filepath.Join(dir, markerFile), strings.TrimSpace(markerHeader))
	}
	m := &marker{}
	if m.Addr, err = schema.ParseAddress(strings.TrimSpace(addrText)); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, markerFile), err)
	}
	if err := json.Unmarshal(rest, m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, markerFile), err)
	}
	return m, nil
}

// writeMarker writes m into dir, replacing any mark there in one rename.
func writeMarker(dir string, m *marker) error {
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	fmt.Fprintf(w, "%s%s\n", markerHeader, m.Addr)
	w.Write(body)
	w.WriteString("\n")
	w.Flush()
	tmp := filepath.Join(dir, "."+markerFile+".tmp")
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, markerFile))
}

// recordConfig stores the source and build attributes of v in m.
func (m *marker) recordConfig(v cty.Value, res typeInfo) error {
	var err error
	if m.Source, err = ctyjson.Marshal(v.GetAttr("source"), res.source); err != nil {
		return err
	}
	m.Build, err = ctyjson.Marshal(v.GetAttr("build"), res.build)
	return err
}

// config returns the recorded source and build attributes.
func (m *marker) config(res typeInfo) (source, build cty.Value, err error) {
	if source, err = ctyjson.Unmarshal(m.Source, res.source); err != nil {
		return cty.NilVal, cty.NilVal, fmt.Errorf("recorded source: %w", err)
	}
	if build, err = ctyjson.Unmarshal(m.Build, res.build); err != nil {
		return cty.NilVal, cty.NilVal, fmt.Errorf("recorded build: %w", err)
	}
	return source, build, nil
}

// typeInfo holds the cty types of the recorded attributes.
type typeInfo struct {
	source, build cty.Type
}

func typesOf(t cty.Type) typeInfo {
	return typeInfo{source: t.AttributeType("source"), build: t.AttributeType("build")}
}
