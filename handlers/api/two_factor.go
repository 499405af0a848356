package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"dokploy/handlers/web"
)

// TwoFactorStatus reports the caller's two-factor sign-in.
func (h *Handler) TwoFactorStatus(c echo.Context) error {
	st, err := h.Ops.TwoFactorStatus(c.Request().Context(), web.CurrentUser(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

// BeginTwoFactor starts an enrolment and returns the secret and its
// otpauth:// URI, once; it is on after /confirm with a code of it.
func (h *Handler) BeginTwoFactor(c echo.Context) error {
	en, err := h.Ops.BeginTwoFactor(c.Request().Context(), web.CurrentUser(c).ID, web.TwoFactorIssuer(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, en)
}

// ConfirmTwoFactor turns two-factor sign-in on with a code of the pending
// secret and returns the recovery codes, shown this once.
func (h *Handler) ConfirmTwoFactor(c echo.Context) error {
	var in struct {
		Code string `json:"code"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	codes, err := h.Ops.ConfirmTwoFactor(c.Request().Context(), web.CurrentUser(c).ID, in.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"enabled": true, "recovery_codes": codes})
}

type passwordJSON struct {
	Password string `json:"password"`
}

// NewRecoveryCodes replaces the caller's recovery codes (password needed).
func (h *Handler) NewRecoveryCodes(c echo.Context) error {
	var in passwordJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	codes, err := h.Ops.NewRecoveryCodes(c.Request().Context(), web.CurrentUser(c).ID, in.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"recovery_codes": codes})
}

// DisableTwoFactor turns the caller's two-factor sign-in off (password
// needed).
func (h *Handler) DisableTwoFactor(c echo.Context) error {
	var in passwordJSON
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if err := h.Ops.DisableTwoFactor(c.Request().Context(), web.CurrentUser(c).ID, in.Password); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"enabled": false})
}

// GetSecuritySettings reports whether every user must use two-factor
// sign-in.
func (h *Handler) GetSecuritySettings(c echo.Context) error {
	on, err := h.Ops.TwoFactorRequired(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"require_two_factor": on})
}

// UpdateSecuritySettings requires two-factor sign-in of every user, or
// stops requiring it.
func (h *Handler) UpdateSecuritySettings(c echo.Context) error {
	var in struct {
		RequireTwoFactor *bool `json:"require_two_factor"`
	}
	if err := bindStrict(c, &in); err != nil {
		return err
	}
	if in.RequireTwoFactor == nil {
		return web.Error(http.StatusUnprocessableEntity, "require_two_factor", "require_two_factor (true or false) is required")
	}
	if err := h.Ops.SetRequireTwoFactor(c.Request().Context(), web.CurrentUser(c), *in.RequireTwoFactor); err != nil {
		return err
	}
	return h.GetSecuritySettings(c)
}
