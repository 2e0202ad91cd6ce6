package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/httpcode"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pages holds one parsed template set per page: the layout plus the page.
type pages struct {
	byName map[string]*template.Template
}

// parsePages parses every page with the layout. It is called at start-up,
// so a broken template stops the server (and fails the tests) instead of
// failing in front of a user.
func parsePages() (*pages, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	files, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: list templates: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, f)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", f, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what every page template gets: the page's own data in Data,
// the viewer and navigation around it.
type view struct {
	Title  string
	User   *lockbox.User
	Nav    []navItem
	Path   string
	Zone   string
	Notice string // a success message ("Request approved.")
	Dev    bool
	Data   any
}

func (h *Handler) newView(r *http.Request, title string, data any) *view {
	u := lockbox.UserFromContext(r.Context())
	return &view{Title: title, User: u, Nav: navFor(u, h.cfg.Dev, h.cfg.Policies != nil, h.cfg.Webhooks != nil), Path: r.URL.Path,
		Zone: location(r).String(), Dev: h.cfg.Dev, Data: data, Notice: notice(r)}
}

// render writes page name with status. It renders into a buffer first, so
// a template error becomes a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	h.renderView(w, r, status, name, h.newView(r, title, data))
}

func (h *Handler) renderView(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := h.pages.byName[name]
	if !ok {
		h.cfg.Logger.ErrorContext(r.Context(), "no such page template", "page", name)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	t = template.Must(t.Clone()).Funcs(template.FuncMap{"when": whenIn(location(r)), "whenShort": whenShortIn(location(r)), "relative": h.relative})
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Heading string
	Message string
}

// errorPage renders a whole-page error a person can act on.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	heading := http.StatusText(status)
	switch status {
	case http.StatusNotFound:
		heading = "Not found"
	case http.StatusForbidden:
		heading = "Not allowed"
	}
	h.render(w, r, status, "error", heading, errorData{Status: status, Heading: heading, Message: msg})
}

// serviceError renders a service error as a page with the right status;
// internal errors are logged here, once, and shown without their details.
func (h *Handler) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		h.cfg.Logger.ErrorContext(r.Context(), "page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h.errorPage(w, r, status, lockbox.ErrorMessage(err))
}

// statusOf is the page's HTTP status for err: the same mapping as the API's.
func statusOf(err error) int { return httpcode.StatusOf(err) }

func (h *Handler) notFoundPage(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusNotFound, "There is no page at this address.")
}

// staticHandler serves the embedded stylesheet and script.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Static files hold no data: caching them is fine, revalidated.
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}
