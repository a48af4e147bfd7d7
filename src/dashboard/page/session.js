// The dashboard's sign-in page (ADMIN_TOKEN set): exchanges the token for a session cookie, then reloads.

document.getElementById('signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = document.getElementById('signin-error');
  error.textContent = '';
  const token = document.getElementById('token').value;
  const res = await fetch('/dashboard/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
    credentials: 'same-origin',
  });
  if (res.ok) {
    location.reload();
    return;
  }
  const body = await res.json().catch(() => ({}));
  error.textContent = body.detail || `sign-in failed (${res.status})`;
});
