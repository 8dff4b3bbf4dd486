/**
 * The pages the browser lands on after the login. Small and self-contained: no fonts, images or
 * scripts from elsewhere (the listener serves nothing else), nothing from the request echoed
 * without escaping.
 */

function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}' +
  'h1{font-size:1.4rem}.ok{color:#1a7f37}.fail{color:#b00020}';

function page(kind: 'success' | 'failure', title: string, heading: string, body: string, script = ''): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body data-page="ca-login-${kind}">
<h1 class="${kind === 'success' ? 'ok' : 'fail'}">${escapeHtml(heading)}</h1>
${body}
${script}</body>
</html>
`;
}

/** After a good login: who logged in, and that the tab may go (closed for the user where the browser allows it). */
export function successPage(who: string | undefined): string {
  const line = who
    ? `<p id="message">You are logged in as <strong id="who">${escapeHtml(who)}</strong>.</p>`
    : '<p id="message">You are logged in.</p>';
  return page(
    'success',
    'Login successful',
    'Login successful',
    `${line}\n<p>Return to the terminal; you can close this tab.</p>`,
    // Browsers only let a script close a tab that a script opened; harmless when refused.
    '<script>setTimeout(function(){window.close()},1500)</script>\n',
  );
}

/** When the login failed or the callback was refused: the reason, and where to look next. */
export function failurePage(message: string): string {
  return page(
    'failure',
    'Login failed',
    'Login failed',
    `<p id="error" role="alert">${escapeHtml(message)}</p>\n<p>Return to the terminal for details and run the command again.</p>`,
  );
}
