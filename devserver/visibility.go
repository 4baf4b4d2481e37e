package devserver

import (
	"database/sql"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	persistencespb "go.temporal.io/server/api/persistence/v1"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite" // the same driver Temporal's SQLite plugin uses
)

// Temporal's SQLite visibility schema indexes executions_visibility 58
// ways: every system column and every pre-allocated search attribute
// column. Each run writes its visibility row twice (at start and at close,
// a REPLACE: a delete and an insert), so every index costs four B-tree
// updates per run on the server's single SQLite writer, and about 400
// bytes per run in the file (docs/performance.md, "Cost as data grows").
//
// hookflow dev keeps the indexes a filter of the Web UI, the executions
// API or the recovery selection uses (the default order, execution time,
// workflow id and type, status, task queue, parent and root workflow,
// and the columns the namespace's custom search attributes map to) and
// drops the others. A filter on a dropped column still answers, by
// scanning: the file holds at most its retention's runs. The full-text
// tables (keyword lists, text) are kept whole: their triggers keep them
// consistent.
var leanVisibilityKeeps = map[string]bool{
	"default_idx": true, "by_execution_time": true, "by_workflow_id": true, "by_workflow_type": true,
	"by_status": true, "by_task_queue": true, "by_parent_workflow_id": true, "by_root_workflow_id": true,
}

// customColumnIndex is the index of a pre-allocated search attribute
// column: Keyword01 is indexed by by_keyword_01.
func customColumnIndex(field string) string {
	i := strings.IndexAny(field, "0123456789")
	if i <= 0 {
		return ""
	}
	return "by_" + strings.ToLower(field[:i]) + "_" + field[i:]
}

// leanVisibility drops the visibility indexes hookflow never filters on
// from the database file, before the server opens it (idempotent). The
// namespace's own row says which columns its custom search attributes use
// (the server assigns them when the namespace is created).
func leanVisibility(file, namespace string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	var data []byte
	var encoding string
	if err := db.QueryRow(`SELECT data, data_encoding FROM namespaces WHERE name = ?`, namespace).Scan(&data, &encoding); err != nil {
		return fmt.Errorf("namespace %q: %w", namespace, err)
	}
	if encoding != enumspb.ENCODING_TYPE_PROTO3.String() {
		return fmt.Errorf("namespace %q: unknown encoding %q", namespace, encoding)
	}
	var detail persistencespb.NamespaceDetail
	if err := proto.Unmarshal(data, &detail); err != nil {
		return fmt.Errorf("namespace %q: %w", namespace, err)
	}
	keep := map[string]bool{}
	for k := range leanVisibilityKeeps {
		keep[k] = true
	}
	for field := range detail.GetConfig().GetCustomSearchAttributeAliases() {
		keep[customColumnIndex(field)] = true
	}
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL`)
	if err != nil {
		return err
	}
	var drop []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		if !keep[name] {
			drop = append(drop, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range drop {
		if _, err := db.Exec(`DROP INDEX IF EXISTS "` + name + `"`); err != nil {
			return fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	return nil
}
