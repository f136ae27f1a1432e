// The resident ID number (GB 11643-1999): 17 digits and an ISO 7064
// MOD 11-2 check character, checked in the page so that a typing mistake
// is caught before the camera and the two-minute digits start (the server
// checks again, package registry).
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = "10X98765432";

// checkChar is the check character of the first 17 digits of id.
export function checkChar(id) {
  let s = 0;
  for (let i = 0; i < 17; i++) s += (id.charCodeAt(i) - 48) * W[i];
  return CHECK[s % 11];
}

// problemOf says what is wrong with id: "" (nothing), "format" (not 17
// digits and a digit or X) or "check" (the check character does not match).
export function problemOf(id) {
  if (!/^[0-9]{17}[0-9X]$/.test(id)) return "format";
  return checkChar(id) === id[17] ? "" : "check";
}
