package web

import (
	"net/http"

	"github.com/lockboxhq/lockbox"
)

type devMailData struct {
	Missing bool
	Mail    []*lockbox.DevMail
}

// devMail shows the mail a --dev server captured instead of sending, so a
// person can read what approvers would receive. It does not exist
// (404) outside --dev.
func (h *Handler) devMail(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Dev {
		h.notFoundPage(w, r)
		return
	}
	if h.cfg.DevMail == nil {
		h.render(w, r, http.StatusOK, "devmail", "Dev mail", devMailData{Missing: true})
		return
	}
	mail, err := h.cfg.DevMail.ListMail(r.Context())
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "devmail", "Dev mail", devMailData{Mail: mail})
}
