package cpbackup

// SetPartBytes changes the part size for a test and returns a restore func.
func SetPartBytes(n int) func() {
	old := partBytes
	partBytes = n
	return func() { partBytes = old }
}
