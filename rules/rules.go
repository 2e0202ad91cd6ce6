// Package rules compiles and evaluates a tenant's policy rules, written in
// CEL (SPEC §11), with cel.dev/cel-go: the language of Kubernetes
// admission rules, Envoy and Google Cloud IAM conditions. It imports the
// root package for the vocabulary; what a set of matches decides is the
// root's DecidePolicy, not this package's.
//
// A rule sees two variables: request (lockbox.PolicyInput, its fields named
// as in the API) and now (a timestamp in UTC; now.getHours("Europe/Berlin")
// is the hour in Berlin, daylight saving time included).
package rules

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // rules name IANA zones; do not depend on the host's zoneinfo

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/lockboxhq/lockbox"
)

// CostLimit bounds the work of one rule on one request, in cel-go's cost
// units (about one per comparison or list element visited). A rule whose
// worst case, estimated from the request's limits (200 operations, a 2000
// character reason), exceeds it is refused when saved; evaluation stops
// at it too, should an estimate ever fall short. Realistic rules cost
// tens to a few thousand: a walk over every operation comparing each to a
// list of ten costs about 6 000.
const CostLimit = 100_000

// Env is the CEL environment of policy rules. It is safe for concurrent
// use.
type Env struct {
	env *cel.Env
	// programs caches compiled expressions by their text: a tenant's rules
	// are evaluated on every request that becomes pending, and compiling
	// costs far more than evaluating.
	mu       sync.Mutex
	programs map[string]cel.Program
}

// maxCachedPrograms bounds the cache; when full it starts over.
const maxCachedPrograms = 4096

var inputType = reflect.TypeFor[lockbox.PolicyInput]()

// NewEnv builds the environment.
func NewEnv() (*Env, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(inputType, ext.ParseStructTags(true)),
		cel.Variable("request", cel.ObjectType("lockbox.PolicyInput")),
		cel.Variable("now", cel.TimestampType),
		ext.Strings(),
	)
	if err != nil {
		return nil, fmt.Errorf("policy rule environment: %w", err)
	}
	return &Env{env: env, programs: map[string]cel.Program{}}, nil
}

// MustEnv is NewEnv for package initialisation and tests.
func MustEnv() *Env {
	e, err := NewEnv()
	if err != nil {
		panic(err)
	}
	return e
}

// Check validates every rule of p (lockbox.ValidatePolicy, then each
// expression): EINVALID whose Field is "rules[i].when" and whose message
// names the rule, the line and column of the first error, and the error.
func (e *Env) Check(p lockbox.Policy) error {
	if err := lockbox.ValidatePolicy(p); err != nil {
		return err
	}
	for i, r := range p.Rules {
		if _, err := e.program(r.When); err != nil {
			var ce *compileError
			if errors.As(err, &ce) {
				return lockbox.FieldErrorf(lockbox.EINVALID, fmt.Sprintf("rules[%d].when", i),
					"Rule %q: %s", r.ID, ce.Error())
			}
			return err
		}
	}
	return nil
}

// compileError is what is wrong with an expression, for a person.
type compileError struct {
	line, column int // 1-based; 0 when the error has no position
	msg          string
}

func (c *compileError) Error() string {
	if c.line == 0 {
		return c.msg
	}
	return fmt.Sprintf("line %d, column %d: %s", c.line, c.column, c.msg)
}

// program compiles when, type-checks it as a bool, and refuses it if its
// estimated worst case exceeds CostLimit.
func (e *Env) program(when string) (cel.Program, error) {
	e.mu.Lock()
	prg, ok := e.programs[when]
	e.mu.Unlock()
	if ok {
		return prg, nil
	}
	ast, iss := e.env.Compile(when)
	if iss.Err() != nil {
		first := iss.Errors()[0]
		return nil, &compileError{line: first.Location.Line(), column: first.Location.Column() + 1, msg: first.Message}
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, &compileError{msg: fmt.Sprintf("when must be true or false; this expression is of type %s.", ast.OutputType())}
	}
	if err := e.checkZones(ast); err != nil {
		return nil, err
	}
	est, err := e.env.EstimateCost(ast, sizes{})
	if err != nil {
		return nil, &compileError{msg: "its cost cannot be estimated: " + err.Error()}
	}
	if est.Max > CostLimit {
		return nil, &compileError{msg: fmt.Sprintf("in the worst case it costs %d units, more than the limit of %d: "+
			"avoid nesting loops over request.operations or over long strings.", est.Max, CostLimit)}
	}
	prg, err = e.env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, &compileError{msg: err.Error()}
	}
	e.mu.Lock()
	if len(e.programs) >= maxCachedPrograms {
		e.programs = map[string]cel.Program{}
	}
	e.programs[when] = prg
	e.mu.Unlock()
	return prg, nil
}

// Evaluate runs every rule on in at now, in policy order. A rule that
// fails (an unknown time zone, the cost limit) has Error set and does not
// match: what that decides is lockbox.DecidePolicy's rule.
func (e *Env) Evaluate(rules []lockbox.PolicyRule, in lockbox.PolicyInput, now time.Time) []lockbox.RuleResult {
	out := make([]lockbox.RuleResult, len(rules))
	vars := map[string]any{"request": in, "now": now.UTC()}
	for i, r := range rules {
		out[i] = lockbox.RuleResult{ID: r.ID}
		prg, err := e.program(r.When)
		if err != nil {
			// Stored rules were checked when saved; one that no longer
			// compiles (an older or newer lockbox saved it) fails closed.
			out[i].Error = err.Error()
			continue
		}
		val, _, err := prg.Eval(vars)
		if err != nil {
			out[i].Error = err.Error()
			continue
		}
		b, ok := val.Value().(bool)
		if !ok {
			out[i].Error = fmt.Sprintf("when gave %v, not true or false", val)
			continue
		}
		out[i].Matched = b
	}
	return out
}

// Decide evaluates rules on in at now and combines the results
// (lockbox.DecidePolicy).
func (e *Env) Decide(rules []lockbox.PolicyRule, in lockbox.PolicyInput, now time.Time) ([]lockbox.RuleResult, lockbox.PolicyDecision) {
	res := e.Evaluate(rules, in, now)
	return res, lockbox.DecidePolicy(rules, res)
}

// checkZones refuses a time zone written as a literal that the zone
// database does not know, such as now.getHours("Europe/Berln"): it would
// fail at every evaluation.
func (e *Env) checkZones(ast *cel.Ast) error {
	var bad *compileError
	walkCalls(ast, func(fn string, args []string, line, col int) {
		if bad != nil || !strings.HasPrefix(fn, "get") {
			return
		}
		for _, z := range args {
			if strings.Contains(z, ":") {
				continue // an offset such as "+01:00", which CEL parses itself
			}
			if _, err := time.LoadLocation(z); err != nil || z == "" || strings.EqualFold(z, "local") {
				bad = &compileError{line: line, column: col, msg: fmt.Sprintf("unknown time zone %q (use an IANA name such as \"Europe/Berlin\").", z)}
			}
		}
	})
	if bad != nil {
		return bad
	}
	return nil
}
