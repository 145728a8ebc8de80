// The stand-alone page around <offhook-phone>: the login token from the address (kept in
// memory, removed from the address bar and history), and the compact embed mode (?embed=1).
const params = new URLSearchParams(location.search);
const phone = document.getElementById("phone");
const token = params.get("token");
if (token) {
  phone.setAttribute("token", token);
  params.delete("token");
}
if (params.get("embed") === "1") {
  document.body.classList.add("embed");
  phone.setAttribute("compact", "");
}
const rest = params.toString();
history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
