package approval

import (
	"context"
	"slices"

	"github.com/lockboxhq/lockbox"
)

// ListServices lists the services catalog (provider staff).
func (s *Service) ListServices(ctx context.Context) ([]*lockbox.Service, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermReadCatalog, ""); err != nil {
		return nil, err
	}
	var out []*lockbox.Service
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		out, err = tx.ListServices(ctx)
		return err
	})
	return out, err
}

// GetService returns one catalog entry.
func (s *Service) GetService(ctx context.Context, name string) (*lockbox.Service, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermReadCatalog, ""); err != nil {
		return nil, err
	}
	var out *lockbox.Service
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		out, err = tx.GetService(ctx, name)
		return err
	})
	return out, err
}

// PutService creates or replaces a catalog entry (provider_admin). Requests
// already filed keep the operations they were filed with.
func (s *Service) PutService(ctx context.Context, in *lockbox.Service) (*lockbox.Service, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermWriteCatalog, ""); err != nil {
		return nil, err
	}
	svc := &lockbox.Service{Name: in.Name, DisplayName: in.DisplayName, Operations: slices.Clone(in.Operations)}
	if svc.DisplayName == "" {
		svc.DisplayName = svc.Name
	}
	if err := svc.Validate(); err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		svc.UpdatedAt = now
		if err := tx.PutService(ctx, svc); err != nil {
			return err
		}
		rec := newRecord(ctx, u, lockbox.ProviderLog, lockbox.RecordProviderAdmin, lockbox.OpServiceUpdated, now)
		rec.AuditData = map[string]any{"service": svc.Name, "operations": svc.Operations}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	return svc, nil
}
