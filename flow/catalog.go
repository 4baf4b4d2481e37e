package flow

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Entry is a flow ready to serve: its definition, version and trigger token.
type Entry struct {
	Flow    *Flow
	Version int64
	Token   string
	// Source says where the flow came from (a file path).
	Source string
}

// Catalog holds flows by trigger token and by id, in memory, for the API's
// trigger path: a lookup is a map read.
type Catalog struct {
	byToken map[string]*Entry
	byID    map[string]*Entry
}

// NewCatalog builds a catalog, refusing duplicate ids and tokens. Entries
// without a token get a random one.
func NewCatalog(entries ...*Entry) (*Catalog, error) {
	c := &Catalog{byToken: map[string]*Entry{}, byID: map[string]*Entry{}}
	var errs []error
	for _, e := range entries {
		if e.Token == "" {
			e.Token = NewToken()
		}
		if prev, dup := c.byID[e.Flow.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: flow id %q is already used by %s", e.Source, e.Flow.ID, prev.Source))
			continue
		}
		if prev, dup := c.byToken[e.Token]; dup {
			errs = append(errs, fmt.Errorf("%s: trigger token is already used by %s", e.Source, prev.Source))
			continue
		}
		c.byID[e.Flow.ID] = e
		c.byToken[e.Token] = e
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// ByToken finds the flow a trigger URL names.
func (c *Catalog) ByToken(token string) (*Entry, bool) {
	e, ok := c.byToken[token]
	return e, ok
}

// ByID finds a flow by id.
func (c *Catalog) ByID(id string) (*Entry, bool) {
	e, ok := c.byID[id]
	return e, ok
}

// Entries lists the flows sorted by id.
func (c *Catalog) Entries() []*Entry {
	out := make([]*Entry, 0, len(c.byID))
	for _, e := range c.byID {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Flow.ID < out[j].Flow.ID })
	return out
}

// NewToken returns a random trigger token: 256 bits, URL-safe.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("flow: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeFile reads one flow file; .json is JSON, .yaml and .yml are YAML.
func DecodeFile(path string) (*Flow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return Decode(data)
	case ".yaml", ".yml":
		return DecodeYAML(data)
	}
	return nil, fmt.Errorf("%s: not a flow file (use .yaml, .yml or .json)", path)
}

// LoadDir reads every .yaml, .yml and .json file of dir (not recursively)
// as a flow. It reports the problems of every file at once, each prefixed
// with its file; if any file is invalid, no flow is returned.
func LoadDir(dir string) (*Catalog, error) {
	files, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("flows directory: %w", err)
	}
	var entries []*Entry
	var errs []error
	for _, de := range files {
		ext := strings.ToLower(filepath.Ext(de.Name()))
		if de.IsDir() || (ext != ".json" && ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, de.Name())
		f, err := DecodeFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		entries = append(entries, &Entry{Flow: f, Version: 1, Token: f.Trigger.Token, Source: path})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("flows directory %s holds no .yaml, .yml or .json flow", dir)
	}
	return NewCatalog(entries...)
}
