package records

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

// findSQL is the SQL of one Records.Find: statement texts and their
// arguments. Every value, filter value and property name alike, is an
// argument; the texts hold only column names, join aliases and directions
// from the fixed set below.
type findSQL struct {
	// Count counts every match; empty unless the query asked.
	Count     string
	CountArgs []any
	// Select reads one page, and one record more to tell whether a next
	// page exists.
	Select     string
	SelectArgs []any
	// Limit is the page size, after the default and the bound.
	Limit int
}

// The SQL dialects the statements are written for (store.Handle.Dialect).
const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "pgx"
)

// DefaultQueryLimit is a query's page size when it names none.
const DefaultQueryLimit = 50

// sortColumns are the record columns a query sorts by, each with the id
// as a tie-break so pages are stable.
var sortColumns = map[string]string{
	"createdAt": "r.created_at",
	"updatedAt": "r.updated_at",
	"id":        "",
}

// findStatements builds the SQL of query q on collection c for a database
// dialect (dialectSQLite or dialectPostgres). Filters and sort name
// properties of the collection (else *InvalidError at filter.<name> or
// sort; pageToken when After is given with a sort). It reads nothing: the
// statements it returns are the whole of what Find sends.
func findStatements(dialect string, c *Collection, q Query) (findSQL, error) {
	out := findSQL{Limit: q.Limit}
	if out.Limit <= 0 {
		out.Limit = DefaultQueryLimit
	}
	out.Limit = min(out.Limit, MaxQueryLimit)
	var errs []field.Error
	args := []any{c.Name}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	from := " FROM records r"
	where := []string{"r.collection = $1"}
	for i, k := range flow.SortedKeys(q.Filter) {
		v := q.Filter[k]
		p, ok := c.Property(k)
		if !ok {
			errs = append(errs, field.Error{Path: "filter." + k, Message: fmt.Sprintf("unknown property (collection %s has: %s)", c.Name, strings.Join(c.propertyNames(), ", "))})
			continue
		}
		if v != nil {
			if msg := p.check(v); msg != "" {
				errs = append(errs, field.Error{Path: "filter." + k, Message: msg})
				continue
			}
		}
		switch {
		case p.Unique && v != nil:
			// A unique value is found by its index, as a lookup finds it.
			text, _ := p.keyText(v)
			a := fmt.Sprintf("k%d", i)
			from += fmt.Sprintf(" JOIN record_keys %s ON %s.collection = r.collection AND %s.record_id = r.id AND %s.property = %s AND %s.value = %s",
				a, a, a, a, arg(k), a, arg(text))
		case dialect == dialectPostgres:
			if v == nil {
				where = append(where, fmt.Sprintf("(r.properties::jsonb -> %s::text) IS NULL", arg(k)))
			} else {
				b, _ := json.Marshal(p.normalize(v))
				where = append(where, fmt.Sprintf("(r.properties::jsonb -> %s::text) = %s::jsonb", arg(k), arg(string(b))))
			}
		default:
			path := arg("$." + k)
			switch t := p.normalize(v).(type) {
			case nil:
				where = append(where, fmt.Sprintf("json_extract(r.properties, %s) IS NULL", path))
			case bool:
				// json_extract gives JSON true and false as 1 and 0.
				n := 0
				if t {
					n = 1
				}
				where = append(where, fmt.Sprintf("json_type(r.properties, %s) IN ('true', 'false') AND json_extract(r.properties, %s) = %s", path, path, arg(n)))
			default:
				where = append(where, fmt.Sprintf("json_extract(r.properties, %s) = %s", path, arg(t)))
			}
		}
	}
	// The count's statement is the filters alone: it takes the arguments
	// made so far (a statement given more arguments than it uses fails on
	// PostgreSQL).
	countArgs := len(args)
	countWhere := where
	order := "r.id"
	if q.Sort != "" {
		name, desc := strings.CutPrefix(q.Sort, "-")
		dir := ""
		if desc {
			dir = " DESC"
		}
		if col, ok := sortColumns[name]; ok {
			order = "r.id" + dir
			if col != "" {
				order = col + dir + ", " + order
			}
		} else if _, ok := c.Property(name); ok {
			var expr string
			if dialect == dialectPostgres {
				expr = "(r.properties::jsonb -> " + arg(name) + "::text)"
			} else {
				expr = "json_extract(r.properties, " + arg("$."+name) + ")"
			}
			// Records without the property come last, either way.
			order = "(" + expr + " IS NULL), " + expr + dir + ", r.id" + dir
		} else {
			errs = append(errs, field.Error{Path: "sort", Message: fmt.Sprintf("sorts by createdAt, updatedAt, id or a property of collection %s (%s), with - for descending", c.Name, strings.Join(c.propertyNames(), ", "))})
		}
		if q.After != "" {
			errs = append(errs, field.Error{Path: "pageToken", Message: "pages only in id order (no sort)"})
		}
	}
	if len(errs) > 0 {
		return findSQL{}, invalidRecord(errs)
	}
	if q.Count {
		// Every match, on every page.
		out.Count = "SELECT COUNT(*)" + from + " WHERE " + strings.Join(countWhere, " AND ")
		out.CountArgs = args[:countArgs:countArgs]
	}
	if q.After != "" {
		where = append(where[:len(where):len(where)], "r.id > "+arg(q.After))
	}
	out.Select = selectRecordColumns + from + " WHERE " + strings.Join(where, " AND ") + " ORDER BY " + order + " LIMIT " + arg(out.Limit+1)
	out.SelectArgs = args
	return out, nil
}
