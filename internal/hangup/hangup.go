package hangup

// Handle identifies one Watch, for Unwatch. The zero Handle is valid and
// watches nothing.
type Handle struct {
	fd int32  // the watched descriptor
	e  *entry // the watch's identity: a reused descriptor number gets a new entry
}

// entry is one watched connection.
type entry struct {
	gone func()
}
