package postgres

// SkipSequencing makes s's Updates return right after their commit, before
// their audit records are sequenced: what a process that crashed between
// the two leaves behind.
func SkipSequencing(s *Store) { s.skipSequencing = true }
