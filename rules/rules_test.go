package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/rules"
)

var env = rules.MustEnv()

func deny(id, when string) lockbox.PolicyRule {
	return lockbox.PolicyRule{ID: id, When: when, Action: lockbox.PolicyAction{Kind: lockbox.ActionDeny}}
}

// TestCheck: what PUT refuses, with the rule, the field and the position.
func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, when string
		// wantMsg are parts of the message; none: the rule is accepted.
		wantMsg []string
	}{
		{"Field", `request.service == "exchange"`, nil},
		{"EveryField", `request.service == "x" && request.operations.size() > 0 && request.duration_minutes <= 60 &&
			request.requested_by.endsWith("@provider.test") && request.service_request.startsWith("SR-") &&
			request.reason.contains("outage") && !request.break_glass`, nil},
		{"BusinessHours", `now.getHours("Europe/Berlin") >= 9 && now.getHours("Europe/Berlin") < 17 && now.getDayOfWeek("Europe/Berlin") in [1, 2, 3, 4, 5]`, nil},
		{"Offset", `now.getHours("+05:30") < 9`, nil},
		{"StringsExtension", `request.reason.lowerAscii().contains("incident")`, nil},
		{"UnknownField", `request.servce == "exchange"`, []string{`Rule "r": line 1, column 8: undefined field 'servce'`}},
		{"UnknownVariable", `req.service == "exchange"`, []string{`line 1, column 1: undeclared reference to 'req'`}},
		{"SecondLine", "request.service == \"exchange\" &&\n  request.duration_minutes > \"60\"", []string{"line 2, column 28", "no matching overload"}},
		{"Syntax", `request.service == `, []string{"line 1, column 20: Syntax error"}},
		{"NotBool", `request.duration_minutes`, []string{"must be true or false", "int"}},
		{"UnknownZone", `now.getHours("Europe/Berln") < 7`, []string{`unknown time zone "Europe/Berln"`, "line 1"}},
		{"LocalZone", `now.getHours("Local") < 7`, []string{`unknown time zone "Local"`}},
		{"TooCostly", `request.operations.all(a, request.operations.all(b, request.operations.all(c, a + b + c != request.reason)))`,
			[]string{"worst case", "limit of 100000"}},
		{"TooCostlyRegex", `request.operations.all(a, request.operations.exists(b, request.reason.matches(a + b)))`,
			[]string{"worst case"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := env.Check(lockbox.Policy{Rules: []lockbox.PolicyRule{deny("ok", "true"), deny("r", tc.when)}})
			if tc.wantMsg == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e, ok := err.(*lockbox.Error)
			if !ok || e.Code != lockbox.EINVALID || e.Field != "rules[1].when" {
				t.Fatalf("got %v, want invalid on rules[1].when", err)
			}
			for _, part := range tc.wantMsg {
				if !strings.Contains(e.Message, part) {
					t.Errorf("message %q lacks %q", e.Message, part)
				}
			}
			if !strings.HasPrefix(e.Message, `Rule "r": `) {
				t.Errorf("message %q does not name the rule first", e.Message)
			}
		})
	}
}

// TestRuntimeCostLimit: the limit stops a rule at evaluation too, should
// an input ever be larger than the estimate assumed, and the rule then
// fails (closed) instead of stalling the server.
func TestRuntimeCostLimit(t *testing.T) {
	t.Parallel()
	r := deny("ops", `request.operations.exists(a, a.endsWith("-Everything"))`)
	if err := env.Check(lockbox.Policy{Rules: []lockbox.PolicyRule{r}}); err != nil {
		t.Fatalf("the rule is within the estimate for 200 operations: %v", err)
	}
	ops := make([]string, 100_000)
	for i := range ops {
		ops[i] = fmt.Sprintf("Op%d", i)
	}
	res := env.Evaluate([]lockbox.PolicyRule{r}, lockbox.PolicyInput{Operations: ops}, time.Now())
	if res[0].Matched || !strings.Contains(res[0].Error, "cost limit") {
		t.Fatalf("got %+v, want the cost limit", res[0])
	}
	// The same rule on a request within the limits is evaluated.
	res = env.Evaluate([]lockbox.PolicyRule{r}, lockbox.PolicyInput{Operations: ops[:200]}, time.Now())
	if res[0].Error != "" || res[0].Matched {
		t.Fatalf("within limits: %+v", res[0])
	}
}

// TestTimeOfDayAcrossDST evaluates time-of-day rules at fixed instants on
// both sides of the 2026 transitions: Europe/Berlin (last Sundays of March
// and October, one hour) and Australia/Lord_Howe (first Sundays of April
// and October, thirty minutes). The local times are written out from the
// zone rules (zdump), not computed by the code under test.
func TestTimeOfDayAcrossDST(t *testing.T) {
	t.Parallel()
	hm := func(zone string) string {
		return fmt.Sprintf(`now.getHours(%q) * 100 + now.getMinutes(%q)`, zone, zone)
	}
	for _, tc := range []struct {
		name, zone string
		utc        string
		wantHHMM   int
	}{
		{"BerlinBeforeSpring", "Europe/Berlin", "2026-03-29T00:59:00Z", 159},
		{"BerlinAfterSpring", "Europe/Berlin", "2026-03-29T01:00:00Z", 300},
		{"BerlinMorningCET", "Europe/Berlin", "2026-03-27T08:30:00Z", 930},
		{"BerlinMorningCEST", "Europe/Berlin", "2026-03-30T07:30:00Z", 930},
		{"BerlinAutumnFirst0230", "Europe/Berlin", "2026-10-25T00:30:00Z", 230},
		{"BerlinAutumnSecond0230", "Europe/Berlin", "2026-10-25T01:30:00Z", 230},
		{"BerlinAfterAutumn", "Europe/Berlin", "2026-10-26T08:30:00Z", 930},
		{"LordHoweBeforeApril", "Australia/Lord_Howe", "2026-04-04T14:59:00Z", 159},
		{"LordHoweAfterApril", "Australia/Lord_Howe", "2026-04-04T15:00:00Z", 130},
		{"LordHoweApril0159Again", "Australia/Lord_Howe", "2026-04-04T15:29:00Z", 159},
		{"LordHoweBeforeOctober", "Australia/Lord_Howe", "2026-10-03T15:29:00Z", 159},
		{"LordHoweAfterOctober", "Australia/Lord_Howe", "2026-10-03T15:30:00Z", 230},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now, err := time.Parse(time.RFC3339, tc.utc)
			if err != nil {
				t.Fatal(err)
			}
			// One rule per candidate time; exactly the local time matches.
			var rs []lockbox.PolicyRule
			for _, hhmm := range []int{tc.wantHHMM - 100, tc.wantHHMM - 30, tc.wantHHMM, tc.wantHHMM + 30, tc.wantHHMM + 100} {
				rs = append(rs, deny(fmt.Sprintf("at-%d", hhmm), fmt.Sprintf("%s == %d", hm(tc.zone), hhmm)))
			}
			_, d := env.Decide(rs, lockbox.PolicyInput{}, now)
			if want := fmt.Sprintf("at-%d", tc.wantHHMM); len(d.Matched) != 1 || d.Matched[0] != want {
				t.Errorf("matched %v, want [%s]", d.Matched, want)
			}
		})
	}
}

// TestBusinessHoursRule is the worked example of docs/policies.md across
// Berlin's spring change: 07:30 UTC is 08:30 on Friday and 09:30 on
// Monday, so only Monday is auto-approved.
func TestBusinessHoursRule(t *testing.T) {
	t.Parallel()
	rs := []lockbox.PolicyRule{{ID: "read-only-business-hours", Action: lockbox.PolicyAction{Kind: lockbox.ActionAutoApprove},
		When: `request.operations.all(op, op.startsWith("Get-")) &&
now.getDayOfWeek("Europe/Berlin") >= 1 && now.getDayOfWeek("Europe/Berlin") <= 5 &&
now.getHours("Europe/Berlin") >= 9 && now.getHours("Europe/Berlin") < 17`}}
	if err := env.Check(lockbox.Policy{Rules: rs}); err != nil {
		t.Fatal(err)
	}
	read := lockbox.PolicyInput{Service: "exchange", Operations: []string{"Get-MailboxStatistics"}}
	write := lockbox.PolicyInput{Service: "exchange", Operations: []string{"Get-MailboxStatistics", "Repair-Mailbox"}}
	for _, tc := range []struct {
		utc  string
		in   lockbox.PolicyInput
		want string
	}{
		{"2026-03-27T07:30:00Z", read, lockbox.OutcomeSettings},    // Fri 08:30 CET
		{"2026-03-27T08:00:00Z", read, lockbox.OutcomeAutoApprove}, // Fri 09:00 CET
		{"2026-03-30T07:30:00Z", read, lockbox.OutcomeAutoApprove}, // Mon 09:30 CEST
		{"2026-03-30T15:00:00Z", read, lockbox.OutcomeSettings},    // Mon 17:00 CEST
		{"2026-03-28T10:00:00Z", read, lockbox.OutcomeSettings},    // Saturday
		{"2026-03-30T07:30:00Z", write, lockbox.OutcomeSettings},   // not read-only
	} {
		now, _ := time.Parse(time.RFC3339, tc.utc)
		if _, d := env.Decide(rs, tc.in, now); d.Outcome != tc.want {
			t.Errorf("%s %v: %s, want %s", tc.utc, tc.in.Operations, d.Outcome, tc.want)
		}
	}
}

// TestEvaluateErrorFailsClosed: an error at evaluation (here a zone that
// is not a literal, so PUT could not check it) never approves.
func TestEvaluateErrorFailsClosed(t *testing.T) {
	t.Parallel()
	rs := []lockbox.PolicyRule{
		{ID: "auto", When: "true", Action: lockbox.PolicyAction{Kind: lockbox.ActionAutoApprove}},
		deny("zone", `now.getHours(request.service_request) < 7`),
	}
	if err := env.Check(lockbox.Policy{Rules: rs}); err != nil {
		t.Fatal(err)
	}
	res, d := env.Decide(rs, lockbox.PolicyInput{ServiceRequest: "Mars/Olympus"}, time.Now())
	if res[1].Error == "" || d.Outcome != lockbox.OutcomeSettings || !d.HoldsForPeople() {
		t.Fatalf("results %+v, decision %+v: want the error to hold the request for people", res, d)
	}
}
