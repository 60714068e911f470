// Package browsertest tests sluice as a person uses it: a real headless
// Chromium, pointed at the real sluice binary with --proxy-server, loads
// pages, runs their scripts and stylesheets and logs in through forms.
//
// The package holds tests only. They need Chromium on PATH (the Debian
// package chromium); without it they skip, except under CI=true, where they
// fail, so a CI image that lost its browser cannot pass silently.
//
// It does not test the proxy's protocol handling in detail; the table and
// fuzz tests of internal/proxy and internal/server do that. What it adds is
// the evidence that a browser, with all its own habits (keep-alive pools,
// preconnects, favicon requests, redirects after POST, cookie jars, CONNECT
// for https), works through sluice end to end.
package browsertest
