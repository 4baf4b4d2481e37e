package devserver

import (
	"database/sql"
	"fmt"
	"strings"

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
// and the Keyword and Int columns hookflow's search attributes map to) and
// drops the others. A filter on a dropped column still answers, by
// scanning: the file holds at most its retention's runs. The full-text
// tables (keyword lists, text) are kept whole: their triggers keep them
// consistent.
var leanVisibilityKeeps = map[string]bool{
	"default_idx": true, "by_execution_time": true, "by_workflow_id": true, "by_workflow_type": true,
	"by_status": true, "by_task_queue": true, "by_parent_workflow_id": true, "by_root_workflow_id": true,
}

func keepVisibilityIndex(name string) bool {
	return leanVisibilityKeeps[name] || strings.HasPrefix(name, "by_keyword_") || strings.HasPrefix(name, "by_int_")
}

// leanVisibility drops the visibility indexes hookflow never filters on
// from the database file (before the server opens it; idempotent).
func leanVisibility(file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
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
		if !keepVisibilityIndex(name) {
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
