package environ

// SetupTestingDefaults fills in the variables a request needs with
// placeholder values where they are missing, as
// wsgiref.util.setup_testing_defaults does: SERVER_NAME "127.0.0.1",
// SERVER_PROTOCOL "HTTP/1.0", HTTP_HOST "127.0.0.1", REQUEST_METHOD "GET",
// SCRIPT_NAME "" and PATH_INFO "/" (when neither is set), GATEWAY_INTERFACE
// "CGI/1.1", QUERY_STRING "", SERVER_PORT "80" or "443" for HTTPS.
// It is for tests and tools, never for a real request.
func SetupTestingDefaults(e Env) {
	setDefault(e, "SERVER_NAME", "127.0.0.1")
	setDefault(e, "SERVER_PROTOCOL", "HTTP/1.0")
	setDefault(e, "HTTP_HOST", e["SERVER_NAME"])
	setDefault(e, "REQUEST_METHOD", "GET")
	_, hasSN := e["SCRIPT_NAME"]
	_, hasPI := e["PATH_INFO"]
	if !hasSN && !hasPI {
		e["SCRIPT_NAME"] = ""
		e["PATH_INFO"] = "/"
	}
	setDefault(e, "GATEWAY_INTERFACE", "CGI/1.1")
	setDefault(e, "QUERY_STRING", "")
	setDefault(e, "REMOTE_ADDR", "127.0.0.1")
	setDefault(e, "SERVER_SOFTWARE", "gatewayd")
	if GuessScheme(e) == "https" {
		setDefault(e, "SERVER_PORT", "443")
	} else {
		setDefault(e, "SERVER_PORT", "80")
	}
}

func setDefault(e Env, name, value string) {
	if _, ok := e[name]; !ok {
		e[name] = value
	}
}
