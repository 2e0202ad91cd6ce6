package sqlrows

import (
	"encoding/json"

	"github.com/lockboxhq/lockbox"
)

// A tenant's policy rules are one JSON array in tenants.policy_rules, the
// same on both engines: the stores keep them, the rules package reads them.

// PolicyRules encodes p's rules; no rules is "[]".
func PolicyRules(p lockbox.Policy) (string, error) {
	rules := p.Rules
	if rules == nil {
		rules = []lockbox.PolicyRule{}
	}
	b, err := json.Marshal(rules)
	return string(b), err
}

// ParsePolicyRules decodes s.
func ParsePolicyRules(s string) (*lockbox.Policy, error) {
	p := &lockbox.Policy{Rules: []lockbox.PolicyRule{}}
	if err := json.Unmarshal([]byte(s), &p.Rules); err != nil {
		return nil, err
	}
	if p.Rules == nil {
		p.Rules = []lockbox.PolicyRule{}
	}
	return p, nil
}
