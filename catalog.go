package lockbox

import (
	"context"
	"regexp"
	"time"
)

// Service is a provider service in the catalog, with the operations an
// operator may be granted on it.
type Service struct {
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Operations  []string  `json:"operations"`
	UpdatedAt   time.Time `json:"updated_at"`
}

var (
	serviceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	operationRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._:-]{0,127}$`)
)

// Validate checks a catalog entry.
func (s *Service) Validate() error {
	if !serviceNameRE.MatchString(s.Name) {
		return FieldErrorf(EINVALID, "name", "Service name %q must be lower-case letters, digits or hyphens.", s.Name)
	}
	if len(s.Operations) == 0 || len(s.Operations) > 200 {
		return FieldErrorf(EINVALID, "operations", "A service needs 1 to 200 operations.")
	}
	seen := map[string]bool{}
	for _, op := range s.Operations {
		if !operationRE.MatchString(op) {
			return FieldErrorf(EINVALID, "operations", "Operation %q must start with a letter and hold only letters, digits, '.', '_', ':' or '-'.", op)
		}
		if seen[op] {
			return FieldErrorf(EINVALID, "operations", "Operation %q is listed twice.", op)
		}
		seen[op] = true
	}
	return ValidText("display_name", s.DisplayName, 200, false)
}

// CatalogService manages the services catalog (provider_admin writes; all
// provider staff read).
type CatalogService interface {
	ListServices(ctx context.Context) ([]*Service, error)
	GetService(ctx context.Context, name string) (*Service, error)
	// PutService creates or replaces a service.
	PutService(ctx context.Context, s *Service) (*Service, error)
}
