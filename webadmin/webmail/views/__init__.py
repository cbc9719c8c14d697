"""Webmail views, thin: parse the request, call a service function (auth, folders, render, writing,
usersettings), render. One module per face: session, mail (lists and reading), writing, preferences."""
