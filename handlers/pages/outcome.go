package pages

import (
	"errors"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"dokploy/jobs/ops"
	"dokploy/views"
)

// outcome splits an operation's result into what a panel shows: msg on
// success, problem when the input was refused or the change was saved but
// not routed, and fail for anything else, which the error funnel answers.
func outcome(err error, done string) (msg, problem string, fail error) {
	var fields ops.FieldErrors
	var conflict *ops.ConflictError
	var forbidden *ops.ForbiddenError
	switch {
	case err == nil:
		return done, "", nil
	case errors.As(err, &forbidden):
		return "", forbidden.Msg, nil
	case ops.IsNotRouted(err):
		return done, err.Error(), nil
	case errors.As(err, &fields):
		_, problem = fields.First()
		return "", problem, nil
	case errors.As(err, &conflict):
		return "", conflict.Msg, nil
	}
	return "", "", err
}

// formErrors puts an operation's refusal on the form's fields and reports
// whether it was one; other errors are left to the caller.
func formErrors(form *views.Form, err error) bool { return FormErrors(form, err) }

// FormErrors is formErrors for the handlers outside this package (sign-in
// and invitations).
func FormErrors(form *views.Form, err error) bool {
	var fields ops.FieldErrors
	var conflict *ops.ConflictError
	switch {
	case errors.As(err, &fields):
		mergeErrors(form, fields)
		return true
	case errors.As(err, &conflict) && conflict.Field == "":
		form.Error = conflict.Msg
		return true
	case errors.As(err, &conflict):
		mergeErrors(form, map[string]string{conflict.Field: conflict.Msg})
		return true
	}
	return false
}

// wholeNumbers reads the form fields keys as whole numbers: each typed
// value stays on form, and one that is not a number gets its error there
// and no entry in the result.
func wholeNumbers(c echo.Context, form *views.Form, keys ...string) map[string]*int {
	nums := map[string]*int{}
	for _, key := range keys {
		v := strings.TrimSpace(c.FormValue(key))
		form.Values[key] = v
		n, err := strconv.Atoi(v)
		if err != nil {
			form.Errors[key] = "Enter a whole number."
			continue
		}
		nums[key] = &n
	}
	return nums
}
