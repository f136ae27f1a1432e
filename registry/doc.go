// Package registry is the population registry: the authoritative record of
// residents that the identity authority loads and that enrollment checks
// against. It holds the domain only (ID-number validation, records, the
// service, bulk import parsers, the demo generator); persistence is behind
// the Store interface (implemented by package store for SQLite and
// PostgreSQL) and encryption behind Sealer (package seal).
//
// # ID numbers
//
// ParseIDNumber validates an 18-character resident identity number (GB
// 11643-1999): a 6-digit address code whose province exists, an 8-digit date
// of birth that is a real past date, a 3-digit sequence number (odd for men,
// even for women) and the ISO 7064 MOD 11-2 check character (0-9 or X). Each
// failure has its own sentinel error and a message that says what is wrong.
// Record.Normalize also checks that the record's sex and birth date agree
// with the number.
//
// # What the database sees
//
// A database dump alone must not reveal who is registered. Each record is
// one row keyed by a blind index: HMAC-SHA256 of the canonical ID number
// under a key derived from the master key. Looking a number up computes its
// index; without the key, the index cannot be reversed or tested against a
// guessed number (the ID-number space is small enough, about 10^11 plausible
// numbers, that an unkeyed hash could be brute-forced in hours). All
// personal data (ID number, name, sex, dates, ethnicity, address, issuing
// authority) is sealed as one AES-256-GCM value bound to the row's index, so
// rows cannot be swapped. The portrait and the face template are sealed the
// same way in a separate table, so lookups that do not need them never load
// them. Only the status and the timestamps are in clear, because operations
// (counts, revocation sweeps) need them. A keyed digest of the sealed fields
// lets a re-import skip unchanged records without decrypting anything.
//
// # Import format
//
// Import reads CSV (with a header line) or JSON Lines (one object per line)
// with these columns or keys, all strings:
//
//	id_number    18 characters, required
//	name         required, UTF-8 (CJK), at most 64 characters
//	sex          male/female, m/f or 男/女; empty: taken from the ID number
//	birth_date   YYYY-MM-DD or YYYYMMDD; empty: taken from the ID number
//	ethnicity    optional
//	address      required
//	authority    issuing authority, required
//	valid_from   required date
//	valid_until  date; empty, 长期 or long-term for a long-term card
//	status       valid (default), cancelled or deceased
//	portrait     optional: a path relative to the input file's directory
//	             (it may not leave that directory), or base64:DATA;
//	             JPEG or PNG, at most 2 MiB
//
// Records are written in batches, each in one transaction together with a
// checkpoint (the input's identity, the byte offset and line number after
// the batch), so an interrupted import resumes exactly where the last batch
// ended. A bad line is reported as "line N: field: reason" and skipped; the
// good lines around it are imported. Re-importing a file updates changed
// records and leaves unchanged ones untouched, so imports are idempotent.
//
// Large inputs import in two passes (ImportOptions.Sort; the CLI's
// --sort, on by default from 64 MiB). The blind index is a keyed hash, so
// records in input order land on random pages of the index and every
// record of a transaction dirties a different page. The first pass reads,
// validates and seals every record and spills them, sealed, into runs
// sorted by blind index in a temporary directory (an external merge sort,
// so memory stays bounded). The second merges the runs and writes batches
// in index order, so that the index grows at its right edge. Both passes
// resume: the first from a manifest written with each run (the offset in
// the input every spilled record comes before), the second from its
// checkpoints, which hold the last index committed. At most 128 runs are
// merged at once; more are first merged in groups into longer runs. The
// merge is written here: it is a few dozen lines over container/heap, and
// the run format holds only the sealed rows the database holds.
package registry
