"""axe-core (from npm, node_modules/axe-core) run in Chromium by the browser tests: the serious and
critical violations it finds on a page, in light and in dark mode."""

from typing import Any, Literal

from playwright.sync_api import Page

from tests.harness import ROOT

AXE = (ROOT / "node_modules/axe-core/axe.min.js").read_text()
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")

RUN_AXE = """async (include) => {
  // Colours that change with the scheme may be in transition (the admin's links are): axe
  // reads them once they have arrived.
  await new Promise((done) => requestAnimationFrame(done));
  await Promise.all(document.getAnimations().map((a) => a.finished.catch(() => {})));
  const context = include ? { include: [include] } : document;
  // No preload: axe would fetch the pages' stylesheets into <style> elements of its own, which
  // the CSP refuses (and resolve the admin's @import against the page).
  const { violations } = await axe.run(context, { resultTypes: ["violations"], preload: false });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => `${JSON.stringify(n.target)}: ${n.failureSummary}`) }));
}"""


class Axe:
    """Serious and critical violations axe finds, by the page and state they were found in."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(
        self,
        page: Page,
        where: str,
        include: list[str] | None = None,
        then: Literal["light", "dark"] = "light",
    ) -> None:
        """Run axe on PAGE (or INCLUDE in it) in light and in dark mode; leave it in THEN."""
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(AXE)
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            violations: list[dict[str, Any]] = page.evaluate(RUN_AXE, include)
            for v in violations:
                nodes = "\n    ".join(v["nodes"])
                self.found.append(
                    f"{where}, {scheme}: {v['id']} ({v['impact']}) {v['help']}\n    {nodes}"
                )
        page.emulate_media(color_scheme=then)

    def assert_none(self) -> None:
        assert not self.found, "axe found:\n" + "\n".join(self.found)
