package server

import (
	"time"

	"github.com/lockboxhq/lockbox"
)

// The API serves every time in UTC (SPEC §3), whatever location a store
// reads them back in. These copy a value before changing it: services may
// hand out values they share.

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func utcRequest(r *lockbox.AccessRequest) *lockbox.AccessRequest {
	c := r.Clone()
	c.CreatedAt, c.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	for _, t := range []**time.Time{&c.StartTime, &c.ReviewedAt, &c.DecidedAt,
		&c.AccessStartsAt, &c.AccessEndsAt, &c.EndedAt} {
		*t = utcPtr(*t)
	}
	if c.Operations == nil {
		c.Operations = []string{}
	}
	return c
}

func utcUser(u *lockbox.User) *lockbox.User {
	c := *u
	c.CreatedAt = u.CreatedAt.UTC()
	if c.Roles == nil {
		c.Roles = []lockbox.Role{}
	}
	return &c
}

func utcUsers(us []*lockbox.User) []*lockbox.User {
	out := make([]*lockbox.User, len(us))
	for i, u := range us {
		out[i] = utcUser(u)
	}
	return out
}

func utcTenant(t *lockbox.Tenant) *lockbox.Tenant {
	c := *t
	c.CreatedAt = t.CreatedAt.UTC()
	return &c
}

func utcService(s *lockbox.Service) *lockbox.Service {
	c := *s
	c.UpdatedAt = s.UpdatedAt.UTC()
	if c.Operations == nil {
		c.Operations = []string{}
	}
	return &c
}
