package flow

import "regexp"

// secretNamePattern keeps secret names safe as environment variable
// suffixes and file names (no path separators, no dots). The rule lives
// here, where flow files are validated; package secrets applies the same.
var secretNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// ValidSecretName reports whether a secret name is acceptable.
func ValidSecretName(name string) bool { return secretNamePattern.MatchString(name) }

// SecretNamePattern is the rule ValidSecretName applies, for the JSON
// Schema of the files that name secrets.
func SecretNamePattern() string { return secretNamePattern.String() }
