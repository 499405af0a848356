package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/db"
)

// deliveriesShown is how many deliveries the app page lists.
const deliveriesShown = 20

// webhookPanel is the data of the app page's webhook section.
type webhookPanel struct {
	App        *db.App
	Hook       *db.Webhook
	URL        string
	WatchPaths string // one pattern per line, as the textarea shows them
	Deliveries []db.Delivery
	CSRF       string
	Saved      string
	Error      string
	ShowSecret bool // right after "Generate secret", so it can be copied
}

func (h *Handler) loadWebhookPanel(c echo.Context, a *db.App) (*webhookPanel, error) {
	ctx := c.Request().Context()
	hook, err := h.store.AppWebhook(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	deliveries, err := h.store.Deliveries(ctx, a.ID, deliveriesShown, 0)
	if err != nil {
		return nil, err
	}
	p := &webhookPanel{App: a, Hook: hook, URL: h.webhookURL(hook), Deliveries: deliveries,
		WatchPaths: strings.Join(hook.WatchPaths, "\n")}
	p.CSRF, _ = c.Get(ctxCSRF).(string)
	return p, nil
}

// renderWebhookPanel re-renders the section, with a message for the user.
func (h *Handler) renderWebhookPanel(c echo.Context, a *db.App, status int, mutate func(*webhookPanel)) error {
	p, err := h.loadWebhookPanel(c, a)
	if err != nil {
		return err
	}
	if mutate != nil {
		mutate(p)
	}
	return h.partial(c, status, "app_webhooks", p)
}

func (h *Handler) showWebhookPanel(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	return h.renderWebhookPanel(c, a, http.StatusOK, nil)
}

// showWebhookDeliveries is polled by the page so deliveries appear live.
func (h *Handler) showWebhookDeliveries(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	deliveries, err := h.store.Deliveries(c.Request().Context(), a.ID, deliveriesShown, 0)
	if err != nil {
		return err
	}
	return h.partial(c, http.StatusOK, "webhook_deliveries", &webhookPanel{App: a, Deliveries: deliveries})
}

func (h *Handler) updateWebhookSettings(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	in := db.WebhookSettings{DeployOn: c.FormValue("deploy_on"), AutoDeploy: c.FormValue("auto_deploy") == "on"}
	raw := c.FormValue("watch_paths")
	verr := validateDeployOn(in.DeployOn)
	if verr == nil {
		in.WatchPaths, verr = validateWatchPaths(strings.Split(raw, "\n"))
	}
	if verr != nil {
		return h.renderWebhookPanel(c, a, http.StatusUnprocessableEntity, func(p *webhookPanel) {
			p.Error, p.WatchPaths = verr.Error()+". Nothing was saved.", raw
		})
	}
	if err := h.store.UpdateWebhookSettings(c.Request().Context(), a.ID, in); err != nil {
		return err
	}
	return h.renderWebhookPanel(c, a, http.StatusOK, func(p *webhookPanel) { p.Saved = "Webhook settings saved." })
}

func (h *Handler) rotateWebhookToken(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	if _, err := h.store.RotateWebhookToken(c.Request().Context(), a.ID); err != nil {
		return err
	}
	return h.renderWebhookPanel(c, a, http.StatusOK, func(p *webhookPanel) {
		p.Saved = "New webhook URL. Update it at your git host: the old one no longer works."
	})
}

// updateWebhookSecret generates, sets or clears the signing secret.
func (h *Handler) updateWebhookSecret(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	secret, msg := "", "Secret cleared: deliveries are no longer verified, only the URL token protects the webhook."
	switch c.FormValue("action") {
	case "generate":
		secret, msg = db.RandomToken(), "New secret generated. Paste it into your git host's webhook settings."
	case "set":
		secret, msg = strings.TrimSpace(c.FormValue("secret")), "Secret saved."
		if secret == "" {
			return h.renderWebhookPanel(c, a, http.StatusUnprocessableEntity, func(p *webhookPanel) {
				p.Error = "Enter a secret, or use Clear to turn verification off."
			})
		}
	}
	if err := validateWebhookSecret(secret); err != nil {
		return h.renderWebhookPanel(c, a, http.StatusUnprocessableEntity, func(p *webhookPanel) { p.Error = err.Error() + "." })
	}
	if err := h.store.SetWebhookSecret(c.Request().Context(), a.ID, secret); err != nil {
		return err
	}
	return h.renderWebhookPanel(c, a, http.StatusOK, func(p *webhookPanel) {
		p.Saved, p.ShowSecret = msg, secret != ""
	})
}

// apiGetWebhook shows the webhook settings with the secret, so scripts can
// configure the git host; changes go through PATCH /applications/{id}.
func (h *Handler) apiGetWebhook(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	hook, err := h.store.AppWebhook(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	out := h.webhookToJSON(hook)
	out.Secret = hook.Secret
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) apiRotateWebhook(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	hook, err := h.store.RotateWebhookToken(c.Request().Context(), a.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.webhookToJSON(hook))
}

func (h *Handler) apiListDeliveries(c echo.Context) error {
	a, err := h.loadApp(c)
	if err != nil {
		return err
	}
	limit, offset := pageParams(c)
	items, err := h.store.Deliveries(c.Request().Context(), a.ID, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "limit": limit, "offset": offset})
}
