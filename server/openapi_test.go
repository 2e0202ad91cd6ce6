package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox/server"
)

// mustLoadOpenAPI loads and validates the embedded OpenAPI document.
func mustLoadOpenAPI(tb testing.TB) *openapi3.T {
	tb.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(server.OpenAPI())
	if err != nil {
		tb.Fatalf("loading openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		tb.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc := mustLoadOpenAPI(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
}

// TestOpenAPIMatchesRoutes checks that every route is documented, every
// documented operation is a route, and the document's security matches the
// route's Public flag.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc := mustLoadOpenAPI(t)
	documented := map[string]bool{} // "METHOD /path" → public
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			public := op.Security != nil && len(*op.Security) == 0
			documented[method+" "+path] = public
		}
	}
	served := map[string]bool{}
	for _, rt := range server.Routes(true) {
		served[rt.Method+" "+rt.Pattern] = rt.Public
	}
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("routes (-served +documented, value = public):\n%s", diff)
	}
}

// TestOpenAPIOperations checks each operation's shape: an operationId, a
// success response, a problem default, and that every error response it
// lists is a problem document.
func TestOpenAPIOperations(t *testing.T) {
	t.Parallel()
	doc := mustLoadOpenAPI(t)
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			t.Run(name, func(t *testing.T) {
				if prev, dup := ids[op.OperationID]; dup || op.OperationID == "" {
					t.Errorf("operationId %q is empty or also used by %s", op.OperationID, prev)
				}
				ids[op.OperationID] = name
				if op.Responses.Default() == nil {
					t.Error("no default (problem) response")
				}
				var success []string
				for status, ref := range op.Responses.Map() {
					switch {
					case strings.HasPrefix(status, "2"):
						success = append(success, status)
					case ref.Value.Content.Get("application/problem+json") == nil:
						t.Errorf("response %s is not a problem document", status)
					}
				}
				if len(success) != 1 {
					t.Errorf("success responses %v, want exactly one", success)
				}
				if strings.HasPrefix(path, "/v1/") && !publicOp(op) && op.Responses.Status(http.StatusUnauthorized) == nil {
					t.Error("an authenticated operation does not document 401")
				}
				if op.RequestBody != nil && op.RequestBody.Value.Required && op.Responses.Status(http.StatusRequestEntityTooLarge) == nil {
					t.Error("an operation with a body does not document 413")
				}
			})
		}
	}
}

func publicOp(op *openapi3.Operation) bool { return op.Security != nil && len(*op.Security) == 0 }

// TestOpenAPIDocumentWithoutDev checks that a server without --dev serves a
// document without the dev paths, and that it still loads.
func TestOpenAPIDocumentWithoutDev(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	rec := h.do(t, call{method: "GET", path: "/v1/openapi.json", noAuth: true})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for path := range doc.Paths.Map() {
		paths = append(paths, path)
	}
	var want []string
	for _, rt := range server.Routes(false) {
		if !slices.Contains(want, rt.Pattern) {
			want = append(want, rt.Pattern)
		}
	}
	slices.Sort(paths)
	slices.Sort(want)
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("paths without --dev (-want +got):\n%s", diff)
	}
}
