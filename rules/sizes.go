package rules

import (
	"cel.dev/cel-go/common/cost"
)

// sizes tells cel-go's cost estimator how large a request's fields can be,
// from the limits the API enforces (lockbox.NewRequest validation and the
// catalog's), so that a rule's worst case is a number and not "unbounded".
type sizes struct{}

// fieldSizes are maximum sizes by path from the variable; "@items" is an
// element of a list.
var fieldSizes = map[string]uint64{
	"request.operations":        200, // a catalog service lists at most 200
	"request.operations.@items": 128, // an operation name
	"request.service":           64,
	"request.service_request":   64,   // lockbox.MaxServiceRequestLen
	"request.reason":            2000, // lockbox.MaxReasonLen
	"request.requested_by":      254,  // an email address
}

func (sizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	key := path[0]
	for _, p := range path[1:] {
		key += "." + p
	}
	if max, ok := fieldSizes[key]; ok {
		return &cost.SizeEstimate{Min: 0, Max: max}
	}
	return nil
}

func (sizes) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
