package destinations

import "time"

// SetClock moves a store's clock in tests of package destinations_test.
func SetClock(s *Store, now func() time.Time) { s.now = now }
