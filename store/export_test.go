package store

import "time"

// SetClock moves the store's clock in tests of package store_test.
func SetClock(s *Store, now func() time.Time) { s.db.now = now }
