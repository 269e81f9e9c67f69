// browser.mjs - the web admin in a real browser: Debian's chromium driven by playwright-core.
// Started by test_browser.py, which runs listd and checks the database afterwards.
// Env: LISTD_URL (http://127.0.0.1:PORT), SHOTS (folder for screenshots).
// Steps: site admin creates a list; owner adds members, approves a held post, edits settings
// (live preview); anyone browses and searches the archive and subscribes from the public page.
// Fails (exit 1) on any failed expectation, on a console error (a CSP violation shows up as
// one) and on any step taking longer than 15 s.
import { chromium } from "playwright-core";
import path from "node:path";

const base = process.env.LISTD_URL;
const shots = process.env.SHOTS;
const LIST = "mi_lista@lists.mired.org";
const errors = [];

function expect(cond, what) {
  if (!cond) throw new Error("expectation failed: " + what);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  const shot = (name) => page.screenshot({ path: path.join(shots, name + ".png"), fullPage: true });

  async function login(email, password) {
    await page.goto(base + "/login");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(base + "/admin");
  }
  async function logout() {
    await page.getByRole("button", { name: /Log out/ }).click();
    await page.waitForURL(base + "/");
  }

  // Site admin: create a list.
  await login("root@mired.org", "root-secret");
  await page.getByLabel("List address").fill("curso@lists.mired.org");
  await page.getByLabel("Owner email").fill("ana@mired.org");
  await page.getByRole("button", { name: "Create list" }).click();
  await page.waitForURL(base + "/admin/lists/curso@lists.mired.org");
  expect((await page.locator("h1").textContent()) === "curso@lists.mired.org", "new list page");
  await page.goto(base + "/admin");
  await shot("admin-home");
  await logout();

  // Owner: members, held post, settings, delivery.
  await login("ana@mired.org", "ana-secret");
  await page.getByRole("link", { name: LIST }).click();
  await shot("admin-list");
  await page.getByRole("navigation", { name: "List administration" }).getByRole("link", { name: "Members" }).click();
  await page.getByLabel("Addresses (one a line, or separated by commas)").fill(
    "carmen@mired.org\ndiego@mired.org, elena@mired.org\nnot-an-address");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.waitForSelector(".flash");
  const flash = await page.locator(".flash").textContent();
  expect(flash.includes("3 added") && flash.includes("1 invalid"), "bulk add result: " + flash);
  expect(await page.getByRole("cell", { name: "diego@mired.org", exact: true }).isVisible(), "diego listed");
  // Upload a file of addresses: it fills the text area, then the same form adds them.
  await page.locator("#addresses-file").setInputFiles({
    name: "members.txt", mimeType: "text/plain", buffer: Buffer.from("fabio@mired.org\ngloria@mired.org\n") });
  await page.waitForFunction(() => document.getElementById("addresses").value.includes("gloria@mired.org"));
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await page.waitForSelector(".flash");
  const flash2 = await page.locator(".flash").textContent();
  expect(flash2.includes("2 added"), "file upload add result: " + flash2);
  await shot("admin-members");

  await page.getByRole("navigation", { name: "List administration" }).getByRole("link", { name: "Held posts" }).click();
  const subject = page.getByRole("link", { name: "<b>Question</b> about the course" });
  expect(await subject.isVisible(), "held subject shown as text");
  await shot("admin-held");
  await subject.click();
  expect((await page.locator("pre.body").textContent()).includes("<script>"), "held body shown as escaped text");
  await shot("admin-held-view");
  await page.getByRole("navigation", { name: "List administration" }).getByRole("link", { name: "Held posts" }).click();
  await page.getByRole("checkbox", { name: /Select <b>Question<\/b>/ }).check();
  await page.getByRole("button", { name: "Approve" }).click();
  await page.waitForSelector(".flash");
  expect((await page.locator(".flash").textContent()).includes("approve: 1 done"), "approved");

  await page.getByRole("navigation", { name: "List administration" }).getByRole("link", { name: "Settings" }).click();
  await page.getByLabel("Subject prefix").fill("[curso de español]");
  expect((await page.locator("#prefix-preview").textContent()) === "[curso de español] Hello everyone",
    "live subject preview");
  await shot("admin-settings");
  await page.getByRole("navigation", { name: "List administration" }).getByRole("link", { name: "Delivery" }).click();
  await shot("admin-jobs");
  await logout();

  // Anyone: archive by month and thread, a message, search; subscribe.
  await page.goto(base + "/lists/" + LIST + "/archive");
  await shot("archive-index");
  await page.locator(".months a").first().click();
  await page.waitForSelector(".threads li");
  await shot("archive-month");
  await page.getByRole("link", { name: /Question/ }).first().click();
  expect((await page.locator("h1").textContent()).includes("<b>Question</b>"), "archived subject as text");
  await shot("archive-message");
  await page.goto(base + "/lists/" + LIST + "/archive");
  await page.getByRole("searchbox").fill("Bienvenidos");
  await page.getByRole("button", { name: "Search" }).click();
  expect((await page.getByRole("link", { name: /Bienvenidos/ }).count()) === 2, "search finds both posts");
  await shot("archive-search");

  await page.goto(base + "/lists/" + LIST);
  await shot("list-page");
  await page.getByLabel("Your email address").first().fill("fran@mired.org");
  await page.getByRole("button", { name: "Subscribe", exact: true }).click();
  expect((await page.locator("main").textContent()).includes("confirmation message"), "subscribe answered");
  await shot("subscribed");

  const mobile = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const mp = await mobile.newPage();
  await mp.goto(base + "/lists/" + LIST);
  await mp.screenshot({ path: path.join(shots, "list-page-mobile.png"), fullPage: true });
  await mobile.close();

  expect(errors.length === 0, "no console errors: " + errors.join(" | "));
  console.log("browser: all steps passed");
} finally {
  await browser.close();
}
