package records

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow/field"
)

// queryContacts is the collection the builder's tests query.
func queryContacts(t *testing.T) *Collection {
	t.Helper()
	c, err := DecodeCollection([]byte(`
name: contacts
properties:
  - {name: email, type: string, unique: true}
  - {name: firstName, type: string}
  - {name: age, type: number}
  - {name: vip, type: boolean}
  - {name: plan, type: enum, options: [free, pro]}
`), true)
	require.NoError(t, err)
	return c
}

const selectContacts = "SELECT r.id, r.properties, r.version, r.created_at, r.updated_at FROM records r"

// sqlCase is the SQL expected of one dialect.
type sqlCase struct {
	count      string
	countArgs  []any
	sel        string
	selectArgs []any
}

func TestFindStatementsAreParameterisedSQLForBothDatabases(t *testing.T) {
	for _, tc := range []struct {
		name     string
		q        Query
		limit    int
		sqlite   sqlCase
		postgres sqlCase
	}{
		{
			name:     "an empty query reads the first page in id order",
			q:        Query{},
			limit:    DefaultQueryLimit,
			sqlite:   sqlCase{sel: selectContacts + " WHERE r.collection = $1 ORDER BY r.id LIMIT $2", selectArgs: []any{"contacts", 51}},
			postgres: sqlCase{sel: selectContacts + " WHERE r.collection = $1 ORDER BY r.id LIMIT $2", selectArgs: []any{"contacts", 51}},
		},
		{
			name:     "a limit above the bound is cut to MaxQueryLimit",
			q:        Query{Limit: 5000},
			limit:    MaxQueryLimit,
			sqlite:   sqlCase{sel: selectContacts + " WHERE r.collection = $1 ORDER BY r.id LIMIT $2", selectArgs: []any{"contacts", MaxQueryLimit + 1}},
			postgres: sqlCase{sel: selectContacts + " WHERE r.collection = $1 ORDER BY r.id LIMIT $2", selectArgs: []any{"contacts", MaxQueryLimit + 1}},
		},
		{
			name:  "a string filter compares the property's JSON value",
			q:     Query{Filter: map[string]any{"firstName": "Ada"}, Limit: 10},
			limit: 10,
			sqlite: sqlCase{
				sel:        selectContacts + " WHERE r.collection = $1 AND json_extract(r.properties, $2) = $3 ORDER BY r.id LIMIT $4",
				selectArgs: []any{"contacts", "$.firstName", "Ada", 11},
			},
			postgres: sqlCase{
				sel:        selectContacts + " WHERE r.collection = $1 AND (r.properties::jsonb -> $2::text) = $3::jsonb ORDER BY r.id LIMIT $4",
				selectArgs: []any{"contacts", "firstName", `"Ada"`, 11},
			},
		},
		{
			name:  "a number filter compares the number as stored",
			q:     Query{Filter: map[string]any{"age": 42}},
			limit: DefaultQueryLimit,
			sqlite: sqlCase{
				sel:        selectContacts + " WHERE r.collection = $1 AND json_extract(r.properties, $2) = $3 ORDER BY r.id LIMIT $4",
				selectArgs: []any{"contacts", "$.age", float64(42), 51},
			},
			postgres: sqlCase{
				sel:        selectContacts + " WHERE r.collection = $1 AND (r.properties::jsonb -> $2::text) = $3::jsonb ORDER BY r.id LIMIT $4",
				selectArgs: []any{"contacts", "age", "42", 51},
			},
		},
		{
			name:  "a boolean filter on SQLite also checks the JSON type",
			q:     Query{Filter: map[string]any{"vip": true}},
			limit: DefaultQueryLimit,
			sqlite: sqlCase{
				sel:        selectContacts + " WHERE r.collection = $1 AND json_type(r.properties, $2) IN ('true', 'false') AND json_extract(r.properties, $2) = $3 ORDER BY r.id LIMIT $4",
				selectArgs: []any{"contacts", "$.vip", 1, 51},
			},
			postgres: sqlCase{
				sel:        selectContacts + " WHERE r.collection = $1 AND (r.properties::jsonb -> $2::text) = $3::jsonb ORDER BY r.id LIMIT $4",
				selectArgs: []any{"contacts", "vip", "true", 51},
			},
		},
		{
			name:  "a null filter keeps the records without the property",
			q:     Query{Filter: map[string]any{"plan": nil}},
			limit: DefaultQueryLimit,
			sqlite: sqlCase{
				sel:        selectContacts + " WHERE r.collection = $1 AND json_extract(r.properties, $2) IS NULL ORDER BY r.id LIMIT $3",
				selectArgs: []any{"contacts", "$.plan", 51},
			},
			postgres: sqlCase{
				sel:        selectContacts + " WHERE r.collection = $1 AND (r.properties::jsonb -> $2::text) IS NULL ORDER BY r.id LIMIT $3",
				selectArgs: []any{"contacts", "plan", 51},
			},
		},
		{
			name:  "a unique property's filter joins its key index, aliased by its place among the filters",
			q:     Query{Filter: map[string]any{"age": 30, "email": "a@x.test"}, Count: true},
			limit: DefaultQueryLimit,
			sqlite: sqlCase{
				count:      "SELECT COUNT(*) FROM records r JOIN record_keys k1 ON k1.collection = r.collection AND k1.record_id = r.id AND k1.property = $4 AND k1.value = $5 WHERE r.collection = $1 AND json_extract(r.properties, $2) = $3",
				countArgs:  []any{"contacts", "$.age", float64(30), "email", "a@x.test"},
				sel:        selectContacts + " JOIN record_keys k1 ON k1.collection = r.collection AND k1.record_id = r.id AND k1.property = $4 AND k1.value = $5 WHERE r.collection = $1 AND json_extract(r.properties, $2) = $3 ORDER BY r.id LIMIT $6",
				selectArgs: []any{"contacts", "$.age", float64(30), "email", "a@x.test", 51},
			},
			postgres: sqlCase{
				count:      "SELECT COUNT(*) FROM records r JOIN record_keys k1 ON k1.collection = r.collection AND k1.record_id = r.id AND k1.property = $4 AND k1.value = $5 WHERE r.collection = $1 AND (r.properties::jsonb -> $2::text) = $3::jsonb",
				countArgs:  []any{"contacts", "age", "30", "email", "a@x.test"},
				sel:        selectContacts + " JOIN record_keys k1 ON k1.collection = r.collection AND k1.record_id = r.id AND k1.property = $4 AND k1.value = $5 WHERE r.collection = $1 AND (r.properties::jsonb -> $2::text) = $3::jsonb ORDER BY r.id LIMIT $6",
				selectArgs: []any{"contacts", "age", "30", "email", "a@x.test", 51},
			},
		},
		{
			name:  "a later page's count counts every match, with the filters' arguments only",
			q:     Query{Filter: map[string]any{"firstName": "Ada"}, After: "0190-id", Limit: 2, Count: true},
			limit: 2,
			sqlite: sqlCase{
				count:      "SELECT COUNT(*) FROM records r WHERE r.collection = $1 AND json_extract(r.properties, $2) = $3",
				countArgs:  []any{"contacts", "$.firstName", "Ada"},
				sel:        selectContacts + " WHERE r.collection = $1 AND json_extract(r.properties, $2) = $3 AND r.id > $4 ORDER BY r.id LIMIT $5",
				selectArgs: []any{"contacts", "$.firstName", "Ada", "0190-id", 3},
			},
			postgres: sqlCase{
				count:      "SELECT COUNT(*) FROM records r WHERE r.collection = $1 AND (r.properties::jsonb -> $2::text) = $3::jsonb",
				countArgs:  []any{"contacts", "firstName", `"Ada"`},
				sel:        selectContacts + " WHERE r.collection = $1 AND (r.properties::jsonb -> $2::text) = $3::jsonb AND r.id > $4 ORDER BY r.id LIMIT $5",
				selectArgs: []any{"contacts", "firstName", `"Ada"`, "0190-id", 3},
			},
		},
		{
			name:     "a sort by creation time, descending, breaks ties by id",
			q:        Query{Sort: "-createdAt"},
			limit:    DefaultQueryLimit,
			sqlite:   sqlCase{sel: selectContacts + " WHERE r.collection = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2", selectArgs: []any{"contacts", 51}},
			postgres: sqlCase{sel: selectContacts + " WHERE r.collection = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2", selectArgs: []any{"contacts", 51}},
		},
		{
			name:     "a sort by id is the id alone",
			q:        Query{Sort: "id"},
			limit:    DefaultQueryLimit,
			sqlite:   sqlCase{sel: selectContacts + " WHERE r.collection = $1 ORDER BY r.id LIMIT $2", selectArgs: []any{"contacts", 51}},
			postgres: sqlCase{sel: selectContacts + " WHERE r.collection = $1 ORDER BY r.id LIMIT $2", selectArgs: []any{"contacts", 51}},
		},
		{
			name:  "a sort by a property passes its name as an argument and puts records without it last",
			q:     Query{Sort: "-age", Count: true},
			limit: DefaultQueryLimit,
			sqlite: sqlCase{
				count:      "SELECT COUNT(*) FROM records r WHERE r.collection = $1",
				countArgs:  []any{"contacts"},
				sel:        selectContacts + " WHERE r.collection = $1 ORDER BY (json_extract(r.properties, $2) IS NULL), json_extract(r.properties, $2) DESC, r.id DESC LIMIT $3",
				selectArgs: []any{"contacts", "$.age", 51},
			},
			postgres: sqlCase{
				count:      "SELECT COUNT(*) FROM records r WHERE r.collection = $1",
				countArgs:  []any{"contacts"},
				sel:        selectContacts + " WHERE r.collection = $1 ORDER BY ((r.properties::jsonb -> $2::text) IS NULL), (r.properties::jsonb -> $2::text) DESC, r.id DESC LIMIT $3",
				selectArgs: []any{"contacts", "age", 51},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for dialect, want := range map[string]sqlCase{dialectSQLite: tc.sqlite, dialectPostgres: tc.postgres} {
				got, err := findStatements(dialect, queryContacts(t), tc.q)
				require.NoError(t, err, dialect)
				require.Equal(t, tc.limit, got.Limit, dialect)
				require.Equal(t, want.count, got.Count, dialect)
				require.Equal(t, want.countArgs, got.CountArgs, dialect)
				require.Equal(t, want.sel, got.Select, dialect)
				require.Equal(t, want.selectArgs, got.SelectArgs, dialect)
				requireArgsMatchPlaceholders(t, got.Select, got.SelectArgs)
				if got.Count != "" {
					requireArgsMatchPlaceholders(t, got.Count, got.CountArgs)
				}
			}
		})
	}
}

// requireArgsMatchPlaceholders checks that a statement uses exactly its
// arguments: $1 to $len(args), each at least once (PostgreSQL refuses a
// statement given arguments it does not use).
func requireArgsMatchPlaceholders(t *testing.T, stmt string, args []any) {
	t.Helper()
	seen := map[int]bool{}
	for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(stmt, -1) {
		n, _ := strconv.Atoi(m[1])
		seen[n] = true
	}
	for i := 1; i <= len(args); i++ {
		require.True(t, seen[i], "$%d unused in %s", i, stmt)
		delete(seen, i)
	}
	require.Empty(t, seen, "placeholders without an argument in %s", stmt)
}

func TestFindStatementsNeverWriteAValueIntoTheStatementText(t *testing.T) {
	hostile := []string{"x' OR '1'='1", "'; DROP TABLE records; --", `a"b\'c`, "Robert'); --"}
	for _, dialect := range []string{dialectSQLite, dialectPostgres} {
		for _, v := range hostile {
			for _, q := range []Query{
				{Filter: map[string]any{"firstName": v}, Count: true},
				{Filter: map[string]any{"email": v}, Count: true},
				{After: v, Count: true},
			} {
				got, err := findStatements(dialect, queryContacts(t), q)
				require.NoError(t, err)
				// PostgreSQL's filter argument is the value's JSON.
				enc, _ := json.Marshal(v)
				inJSON := string(enc[1 : len(enc)-1])
				for _, stmt := range []string{got.Count, got.Select} {
					require.NotContains(t, stmt, v, "%s: %+v", dialect, q)
					require.NotContains(t, stmt, inJSON, "%s: %+v", dialect, q)
				}
				require.True(t, slices.ContainsFunc(got.SelectArgs, func(a any) bool {
					s, ok := a.(string)
					return ok && (strings.Contains(s, v) || strings.Contains(s, inJSON))
				}), "the value is an argument: %s %+v", dialect, q)
			}
		}
	}
}

func TestFindStatementsNameEveryProblemOfAQueryInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    Query
		want []field.Error
	}{
		{
			name: "an unknown filter property names the collection's properties",
			q:    Query{Filter: map[string]any{"nope": 1}},
			want: []field.Error{{Path: "filter.nope", Message: "unknown property (collection contacts has: email, firstName, age, vip, plan)"}},
		},
		{
			name: "a filter value of the wrong type names the type",
			q:    Query{Filter: map[string]any{"age": "old", "plan": "gold"}},
			want: []field.Error{
				{Path: "filter.age", Message: "must be a number, got a string"},
				{Path: "filter.plan", Message: "must be one of: free, pro"},
			},
		},
		{
			name: "a sort by something that is neither a column nor a property is refused",
			q:    Query{Sort: "-colour"},
			want: []field.Error{{Path: "sort", Message: "sorts by createdAt, updatedAt, id or a property of collection contacts (email, firstName, age, vip, plan), with - for descending"}},
		},
		{
			name: "a page token pages only in id order",
			q:    Query{Sort: "age", After: "0190-id"},
			want: []field.Error{{Path: "pageToken", Message: "pages only in id order (no sort)"}},
		},
		{
			name: "filters, then the sort, then the page token",
			q:    Query{Filter: map[string]any{"vip": "yes"}, Sort: "colour", After: "0190-id"},
			want: []field.Error{
				{Path: "filter.vip", Message: "must be true or false, got a string"},
				{Path: "sort", Message: "sorts by createdAt, updatedAt, id or a property of collection contacts (email, firstName, age, vip, plan), with - for descending"},
				{Path: "pageToken", Message: "pages only in id order (no sort)"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dialect := range []string{dialectSQLite, dialectPostgres} {
				got, err := findStatements(dialect, queryContacts(t), tc.q)
				var ie *InvalidError
				require.True(t, errors.As(err, &ie), "%s: want *InvalidError, got %v", dialect, err)
				require.Equal(t, "record", ie.What)
				require.Equal(t, tc.want, ie.Errors, dialect)
				require.Equal(t, findSQL{}, got, "nothing to run")
			}
		})
	}
}
