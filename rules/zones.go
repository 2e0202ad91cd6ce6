package rules

import (
	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// walkCalls calls fn for every call on a timestamp (now.getHours(…)) with
// the string literals among its arguments and the call's 1-based position.
func walkCalls(a *cel.Ast, fn func(name string, literals []string, line, col int)) {
	native := a.NativeRep()
	root := celast.NavigateAST(native)
	for _, e := range celast.MatchDescendants(root, celast.KindMatcher(celast.CallKind)) {
		call := e.AsCall()
		if !call.IsMemberFunction() || !native.GetType(call.Target().ID()).IsExactType(types.TimestampType) {
			continue
		}
		var lits []string
		for _, arg := range call.Args() {
			if arg.Kind() != celast.LiteralKind {
				continue
			}
			if s, ok := arg.AsLiteral().(types.String); ok {
				lits = append(lits, string(s))
			}
		}
		loc := native.SourceInfo().GetStartLocation(e.ID())
		fn(call.FunctionName(), lits, loc.Line(), loc.Column()+1)
	}
}
