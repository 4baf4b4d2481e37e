package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadDestinationFilesReportsEveryFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crm.yaml"), []byte("name: crm\nbaseUrl: https://api.crm.example.com/v1/\nauth: {type: bearer, tokenSecret: crm_token}\nrateLimit: {perSecond: 5}\n"), 0o644))
	got, err := readDestinationFiles(dir)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "crm", got[0].Name)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("name: bad\nbaseUrl: https://x.example.com/v1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "worse.json"), []byte(`{"name":"worse","baseUrl":"https://x.example.com/","colour":"red"}`), 0o644))
	_, err = readDestinationFiles(dir)
	require.Error(t, err)
	require.Contains(t, err.Error(), "bad.yaml: invalid destination: baseUrl: must end with")
	require.Contains(t, err.Error(), "worse.json: invalid destination: colour: unknown field")
}
