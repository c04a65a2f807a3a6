package outbox

// SetPageSize changes how many messages Pending reads per transaction, so tests can cross page
// boundaries with few messages. It returns a function restoring the old value.
func SetPageSize(n int) (restore func()) {
	old := pageSize
	pageSize = n
	return func() { pageSize = old }
}

// SetMaxJunk changes how many junk entries PutJunk keeps. It returns a function restoring it.
func SetMaxJunk(n int) (restore func()) {
	old := maxJunk
	maxJunk = n
	return func() { maxJunk = old }
}
