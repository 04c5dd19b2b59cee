// Package environ holds the CGI/1.1 environment that every gatewayd front end
// produces and every app reads, and the wsgiref.util family of helpers that
// work on it.
//
// An [Env] maps CGI meta-variable names (RFC 3875 section 4.1) to their values.
// Values are byte strings: a front end copies the bytes it received, valid
// UTF-8 or not, and nothing here re-encodes them.
//
// The helpers match Python's wsgiref.util (PEP 3333) edge case for edge case:
// [GuessScheme], [ApplicationURI], [RequestURI], [ShiftPathInfo],
// [SetupTestingDefaults], [IsHopByHop], plus [DedupIISPath] for IIS's
// repeated SCRIPT_NAME. [Env.Request] turns an environment into the
// *http.Request an app runs with, and [FromRequest] goes the other way for the
// HTTP front end.
//
// The environment a request arrived with travels in its context: apps read it
// with [FromContext].
package environ
