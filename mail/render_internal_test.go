package mail

import (
	htmltemplate "html/template"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestBodyCacheRendersOncePerPayload: sends of one notice to several
// recipients side by side (the outbox sends a batch at once) render it
// once; the others wait for that body. Another payload is its own render.
func TestBodyCacheRendersOncePerPayload(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var renders atomic.Int32
		finish := make(chan struct{})
		c := &bodyCache{render: func(payload []byte) (*body, error) {
			if renders.Add(1) == 1 {
				<-finish // the others ask while this one renders
			}
			return &body{subject: string(payload)}, nil
		}}
		const n = 8
		got := make([]*body, n)
		var wg sync.WaitGroup
		wg.Go(func() { got[0], _ = c.get([]byte("notice-1")) })
		synctest.Wait() // the first is rendering
		for i := 1; i < n; i++ {
			wg.Go(func() { got[i], _ = c.get([]byte("notice-1")) })
		}
		synctest.Wait() // the others have asked
		close(finish)
		wg.Wait()
		if r := renders.Load(); r != 1 {
			t.Errorf("%d sends of one notice rendered it %d times, want once", n, r)
		}
		for i, b := range got {
			if b != got[0] || b == nil || b.subject != "notice-1" {
				t.Errorf("send %d got body %+v, want the one rendered (%+v)", i, b, got[0])
			}
		}
		if b, _ := c.get([]byte("notice-2")); b == nil || b.subject != "notice-2" || renders.Load() != 2 {
			t.Errorf("another notice: body %+v after %d renders, want its own, rendered once more", b, renders.Load())
		}
	})
}

// TestHTMLEscapedAsHTMLTemplate: values in the HTML part are escaped
// exactly as html/template escapes text in an element's content, which
// wrote the part until issue 16: the same bytes for the same notice.
func TestHTMLEscapedAsHTMLTemplate(t *testing.T) {
	t.Parallel()
	tmpl := htmltemplate.Must(htmltemplate.New("").Parse("<p>{{.}}</p>"))
	for _, s := range []string{
		"", "plain", `<script>alert('x' + "y")</script>`, "a & b &amp; c", "nul\x00here", "bad \xff\xfe utf-8",
		"ü 日本 😀", "\ufdd0 \uffff", "tab\tand\nnewline", "&#39;", "==>+<==",
	} {
		var want strings.Builder
		if err := tmpl.Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		got.WriteString("<p>")
		htmlEscaper.WriteString(&got, s)
		got.WriteString("</p>")
		if got.String() != want.String() {
			t.Errorf("escaped %q as %q, html/template as %q", s, got.String(), want.String())
		}
	}
}
