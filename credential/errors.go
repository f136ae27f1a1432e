package credential

import "fmt"

// errorf wraps sentinel with a formatted detail.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// Errorf wraps a sentinel error with detail; the encodings use it so every
// failure reads "credential: <sentinel>: <detail>" and matches errors.Is.
func Errorf(sentinel error, format string, args ...any) error {
	return errorf(sentinel, format, args...)
}
