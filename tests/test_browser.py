"""The pages as people see them: Debian's chromium, headless, driven by Selenium over a small
real federation (Occitanie and Bavaria from deploy/demo, plus a hub, harvested and indexed by
the demo launcher). Each page type is checked for what a cluster manager or a researcher needs
and photographed to tests/artifacts/screenshots/ (git-ignored) for review.

Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver, so Selenium Manager never
downloads a browser; without them the module is skipped, saying so.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from sync.demo import launch
from tests.test_demo import free_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = Path(__file__).parent / "artifacts" / "screenshots"

if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
    pytest.skip("chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver); "
                "the browser tests need them", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    federation = launch(tmp_path_factory.mktemp("browser") / "fed", free_run(3), out=lambda line: None,
                        codes=["DE2", "FRJ"])
    yield federation
    federation.stop()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="s3fed-chromium-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900", "--lang=en-GB"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait(driver, condition, timeout: float = 10):
    return WebDriverWait(driver, timeout).until(condition)


def shot(driver, name: str) -> None:
    """A full-page screenshot (the window grown to the page's height, up to 5000 px)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(900, height + 160), 5000))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1280, 900)


def text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def region(fed, code):
    return next(n for n in fed.regions if n.code == code)


def test_region_node_landing_and_region_page(fed, browser):
    frj = region(fed, "FRJ")
    browser.get(frj.base + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Occitanie"
    body = text(browser)
    assert "Priority domains" in body and "Aerospace Valley" in body and "Federation hub" in body
    shot(browser, "landing")
    browser.find_element(By.LINK_TEXT, "The region's page →").click()
    sections = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "section h2")]
    assert sections[:1] == ["Priority domains"] and "Clusters" in sections
    assert "Materials and processes for aeronautics and advanced industries" in text(browser)
    shot(browser, "region")


def test_domain_page_with_clusters_and_opportunities_from_the_hub(fed, browser):
    browser.get(region(fed, "FRJ").base + "/id/domain/materiaux-procedes-aeronautique")
    assert "Clusters working in this domain" in text(browser) and "Aerospace Valley" in text(browser)
    classification = browser.find_element(By.ID, "classification").text  # concepts apart from the key facts
    assert "NACE activity" in classification and "Manufacture of air and spacecraft" in classification
    rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#opportunities table tbody tr"))
    assert any("Bavaria" in r.text for r in rows)  # asked from the hub's /sparql by the page
    shot(browser, "domain")


def test_cluster_page_with_members_and_language_switch(fed, browser):
    browser.get(region(fed, "FRJ").base + "/id/cluster/aerospace-valley")
    body = text(browser)
    assert "Members" in body and "Airbus" in body
    rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#opportunities table tbody tr"))
    assert any("bavAIRia" in r.text for r in rows)
    shot(browser, "cluster")
    browser.find_element(By.CSS_SELECTOR, "nav.langs a[hreflang=fr]").click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert "Pôle de compétitivité" in text(browser)  # the French description is the lead now
    browser.get(region(fed, "FRJ").base + "/id/domain/materiaux-procedes-aeronautique")  # remembered
    assert "Matériaux" in browser.find_element(By.TAG_NAME, "h1").text
    browser.get(region(fed, "FRJ").base + "/?lang=auto")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    browser.get(region(fed, "FRJ").base + "/id/cluster/automotech")  # a cluster in an inter-clustering
    assert "Collaborations" in [h.text for h in browser.find_elements(By.CSS_SELECTOR, "section h2")]


def test_collection_with_filter(fed, browser):
    browser.get(region(fed, "FRJ").base + "/id/cluster/")
    assert len(browser.find_elements(By.CSS_SELECTOR, "ul.members li")) == 8
    box = browser.find_element(By.CSS_SELECTOR, "form.filter input[name=q]")
    box.send_keys("robot", Keys.ENTER)
    wait(browser, EC.url_contains("q=robot"))
    assert [li.text for li in browser.find_elements(By.CSS_SELECTOR, "ul.members li")] == ["Robotics Place"]
    shot(browser, "collection")


def test_search_box_across_the_federation(fed, browser):
    browser.get(fed.hub.base + "/")
    box = browser.find_element(By.CSS_SELECTOR, "header form.search input[name=q]")
    box.send_keys("munchen", Keys.ENTER)
    wait(browser, EC.url_contains("/search"))
    body = text(browser)
    assert "Technical University of Munich" in body and "Technische Universität München" in body
    browser.get(fed.hub.base + "/search?q=AERO")
    kinds = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "section h2")]
    assert any(k.startswith("Clusters") for k in kinds) and "Aerospace Valley" in text(browser)
    assert browser.find_elements(By.TAG_NAME, "mark")
    shot(browser, "search")


def test_sparql_page_runs_a_typed_query(fed, browser):
    browser.get(fed.hub.base + "/sparql")
    editor = browser.find_element(By.ID, "query")
    editor.clear()
    editor.send_keys("SELECT ?cluster ?label WHERE { ?cluster a s3:Cluster ; skos:prefLabel ?label } ORDER BY ?label")
    value = editor.get_attribute("value")
    assert value.startswith("PREFIX ") and "PREFIX s3: <https://w3id.org/s3fed/vocab#>" in value
    assert "PREFIX skos:" in value  # declared as they were typed
    editor.send_keys(Keys.CONTROL, Keys.ENTER)
    rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results tbody tr"))
    assert len(rows) > 10 and "rows in" in browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "csv").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#results td.iri a[href*='/id/cluster/']")
    shot(browser, "sparql")
    editor.clear()
    editor.send_keys("SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 250", Keys.CONTROL, Keys.ENTER)
    pager = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "#results .pager")))
    assert "rows 1–100 of 250" in pager.text and len(browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")) == 100
    pager.find_elements(By.TAG_NAME, "button")[1].click()
    assert "rows 101–200 of 250" in browser.find_element(By.CSS_SELECTOR, "#results .pager").text
    editor.clear()
    editor.send_keys("SELECT * WHERE { ?s ?p }", Keys.CONTROL, Keys.ENTER)
    problem = wait(browser, EC.visibility_of_element_located((By.ID, "problem")))
    assert "SPARQL syntax error" in problem.text
    shot(browser, "sparql-error")


def test_hub_pages(fed, browser):
    hub = fed.hub.base
    browser.get(hub + "/")
    body = text(browser)
    assert "Occitanie" in body and "Bavaria" in body and "Best cooperation opportunities" in body
    shot(browser, "hub")
    browser.get(hub + "/index")
    links = browser.find_elements(By.CSS_SELECTOR, "main a[href*='/index/']")
    assert links, "the cooperation index lists no opportunity"
    shot(browser, "index")
    browser.get(links[0].get_attribute("href"))
    assert browser.find_element(By.TAG_NAME, "h1").text and "Not Found" not in browser.title
    shot(browser, "opportunity")
    browser.get(hub + "/study/")
    assert "stress test" in browser.find_element(By.TAG_NAME, "h1").text.lower()
    shot(browser, "study")
    browser.get(hub + "/peers")
    body = text(browser)
    assert "FRJ" in body and "DE2" in body
    shot(browser, "peers")


def test_network_picture(fed, browser):
    browser.get(fed.hub.base + "/network")
    svg = browser.find_element(By.CSS_SELECTOR, "figure svg")
    assert len(svg.find_elements(By.CSS_SELECTOR, "a.item circle")) == 10  # 8 Occitan + 2 Bavarian clusters
    assert svg.find_elements(By.CSS_SELECTOR, "path.opportunity")
    assert svg.find_elements(By.CSS_SELECTOR, "path.collaboration")  # Aerospace Valley – bavAIRia, and Occitanie's own
    item = svg.find_element(By.CSS_SELECTOR, f"a.item[href='{region(fed, 'FRJ').base}/id/cluster/aerospace-valley']")
    assert "Aerospace Valley" in item.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    shot(browser, "network")
    browser.find_element(By.CSS_SELECTOR, "select[name=kind] option[value=domain]").click()
    wait(browser, EC.url_contains("kind=domain"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure svg a.item")) > 10
    shot(browser, "network-domains")
