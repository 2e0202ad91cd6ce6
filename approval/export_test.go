package approval

import (
	"context"

	"github.com/lockboxhq/lockbox"
)

// OpenStoredSSOSecret opens a tenant's stored IdP secret as the service
// does, for tests that check what the database holds.
func (s *Service) OpenStoredSSOSecret(ctx context.Context, c *lockbox.TenantSSO) (string, bool, error) {
	return s.openSecret(ctx, ssoSecretOf(c), c.ClientSecret)
}
