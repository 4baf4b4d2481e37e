package devserver

import (
	"database/sql"
	"fmt"
	"sort"

	enumspb "go.temporal.io/api/enums/v1"
	persistencespb "go.temporal.io/server/api/persistence/v1"
	"go.temporal.io/server/common/searchattribute/sadefs"
	"google.golang.org/protobuf/proto"
)

// addSearchAttributes registers, in an existing database file, the custom
// search attributes of want its namespace lacks, before the server opens
// it. Temporal's SQLite setup assigns them only when it creates the
// namespace (sqliteschema.CreateNamespaces leaves an existing one alone),
// so a data directory made by an older hookflow would lack an attribute
// added since (HookflowScheduleId) and every run setting it would fail.
// Each missing one takes the first free pre-allocated column of its type;
// those already assigned keep theirs. It returns the names it added.
func addSearchAttributes(file, namespace string, want map[string]enumspb.IndexedValueType) ([]string, error) {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var data []byte
	var encoding string
	if err := db.QueryRow(`SELECT data, data_encoding FROM namespaces WHERE name = ?`, namespace).Scan(&data, &encoding); err != nil {
		return nil, fmt.Errorf("namespace %q: %w", namespace, err)
	}
	if encoding != enumspb.ENCODING_TYPE_PROTO3.String() {
		return nil, fmt.Errorf("namespace %q: unknown encoding %q", namespace, encoding)
	}
	var detail persistencespb.NamespaceDetail
	if err := proto.Unmarshal(data, &detail); err != nil {
		return nil, fmt.Errorf("namespace %q: %w", namespace, err)
	}
	if detail.Config == nil {
		detail.Config = &persistencespb.NamespaceConfig{}
	}
	aliases := detail.Config.CustomSearchAttributeAliases // column -> name
	if aliases == nil {
		aliases = map[string]string{}
	}
	have := map[string]bool{}
	for _, name := range aliases {
		have[name] = true
	}
	columns := sadefs.GetDBIndexSearchAttributes(nil).CustomSearchAttributes // column -> type
	free := make([]string, 0, len(columns))
	for col := range columns {
		if _, used := aliases[col]; !used {
			free = append(free, col)
		}
	}
	sort.Strings(free)
	names := make([]string, 0, len(want))
	for name := range want {
		if !have[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var added []string
	for _, name := range names {
		col := ""
		for i, c := range free {
			if columns[c] == want[name] {
				col = c
				free = append(free[:i], free[i+1:]...)
				break
			}
		}
		if col == "" {
			return nil, fmt.Errorf("namespace %q: no free %s column for search attribute %s", namespace, want[name], name)
		}
		aliases[col] = name
		added = append(added, name)
	}
	if len(added) == 0 {
		return nil, nil
	}
	detail.Config.CustomSearchAttributeAliases = aliases
	out, err := proto.Marshal(&detail)
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(`UPDATE namespaces SET data = ? WHERE name = ?`, out, namespace); err != nil {
		return nil, fmt.Errorf("namespace %q: %w", namespace, err)
	}
	return added, nil
}
