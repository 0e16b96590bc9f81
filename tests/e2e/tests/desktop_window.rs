//! The window behaves like a desktop app: at its smallest size and on a large screen every row
//! keeps its actions on screen without sideways scrolling; the keyboard alone reaches an
//! environment, connects and disconnects it with the focus where the user is; a right-click
//! shows the row's own menu, never the engine's; reload keys do not reload; Esc closes a form.

use std::time::{Duration, Instant};

use airgate_e2e::{
    click_when_ready, connect_selector, display_or_skip, focused, press, row_selector,
    wait_for_focus, wait_for_tunnel,
};
use airgate_sandbox::{Sandbox, Topology};
use fantoccini::Client;
use fantoccini::key::Key;
use serde_json::Value;

/// What the page says about its layout: sideways overflow of the document and of the main
/// area, each row action that is not fully on screen or not the topmost thing at its centre,
/// and the heights of the environment rows.
const LAYOUT: &str = r#"
    const doc = document.documentElement;
    const main = document.querySelector("main");
    const hidden = [];
    const actions = document.querySelectorAll(
        '[data-testid="env-row"] :is([data-testid="open"], [data-testid="connect"],'
        + ' [data-testid="disconnect"], [data-testid="bastion-select"])');
    for (const el of actions) {
        el.scrollIntoView({ block: "nearest", inline: "nearest" });
        const r = el.getBoundingClientRect();
        const row = el.closest("[data-env-name]").dataset.envName;
        const what = row + " " + el.dataset.testid;
        if (r.width === 0 || r.left < 0 || r.right > doc.clientWidth || r.bottom > innerHeight) {
            hidden.push(what + " off screen " + JSON.stringify(r));
            continue;
        }
        const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        if (!top || !(top === el || el.contains(top))) hidden.push(what + " covered");
    }
    const heights = [...document.querySelectorAll('[data-testid="env-row"]')]
        .map((r) => Math.round(r.getBoundingClientRect().height));
    // What sticks out, when something does: the outermost elements past the right edge.
    const wide = [...document.querySelectorAll("body *")]
        .filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 1)
        .filter((el) => !(el.parentElement?.getBoundingClientRect().right > doc.clientWidth + 1))
        .slice(0, 5)
        .map((el) => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right));
    return {
        wide,
        mainWidth: main.clientWidth,
        width: innerWidth,
        height: innerHeight,
        docOverflow: doc.scrollWidth - doc.clientWidth,
        mainOverflow: main.scrollWidth - main.clientWidth,
        hidden,
        heights,
        actions: actions.length,
    };
"#;

async fn layout(client: &Client) -> Value {
    client
        .execute(LAYOUT, Vec::new())
        .await
        .expect("measure the layout")
}

async fn resize(client: &Client, width: u32, height: u32) {
    client
        .set_window_size(width, height)
        .await
        .expect("resize the window");
    // The window manager and the layout settle.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let now = layout(client).await;
        if now["width"].as_u64() <= Some(u64::from(width)) && now["width"].as_u64() > Some(0) {
            let close = now["width"].as_u64().unwrap_or(0) + 40 >= u64::from(width);
            if close {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn assert_fits(client: &Client, what: &str) -> Value {
    let now = layout(client).await;
    assert_eq!(
        now["docOverflow"], 0,
        "{what}: the page scrolls sideways: {now}"
    );
    assert_eq!(
        now["mainOverflow"], 0,
        "{what}: the list scrolls sideways: {now}"
    );
    assert_eq!(now["hidden"], Value::Array(Vec::new()), "{what}: {now}");
    assert!(
        now["actions"].as_u64() > Some(0),
        "{what}: no row action: {now}"
    );
    let heights: Vec<u64> = now["heights"]
        .as_array()
        .expect("heights")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(
        heights.windows(2).all(|w| w[0] == w[1]),
        "{what}: rows of different heights: {heights:?}"
    );
    now
}

async fn wait_for_rows_and_bastions(client: &Client, row: &str) {
    let deadline = Instant::now() + Duration::from_secs(45);
    while client
        .find(fantoccini::Locator::Css(&connect_selector(row)))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "no Connect at {row}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_row_action_stays_on_screen_from_the_smallest_window_to_a_large_one() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let row = row_selector(env.name, env.profile, env.region);
    wait_for_rows_and_bastions(&client, &row).await;

    // The smallest, a large screen, the default, and each side of where a column goes.
    let sizes = [
        (720, 480),
        (1920, 1080),
        (1220, 760),
        (1190, 700),
        (1040, 700),
        (1000, 700),
        (890, 600),
        (860, 600),
        (800, 600),
    ];
    for (width, height) in sizes {
        resize(&client, width, height).await;
        let what = format!("{width}x{height}");
        airgate_e2e::screenshot(&client, &format!("window-{what}")).await;
        let seen = assert_fits(&client, &what).await;
        eprintln!("{what}: {seen}");
    }

    // At the smallest size a private row connects with the buttons it shows; connected (its
    // widest state: port, Copy, Disconnect) it still fits at every size.
    resize(&client, 720, 480).await;
    click_when_ready(&client, &connect_selector(&row)).await;
    wait_for_tunnel(&client, &row, "connected").await;
    for (width, height) in sizes {
        resize(&client, width, height).await;
        let what = format!("{width}x{height}, connected");
        airgate_e2e::screenshot(&client, &format!("window-{width}x{height}-connected")).await;
        assert_fits(&client, &what).await;
    }
    resize(&client, 720, 480).await;
    click_when_ready(&client, &format!(r#"{row} [data-testid="disconnect"]"#)).await;
    wait_for_tunnel(&client, &row, "disconnected").await;

    client.close().await.expect("close the app");
    drop(driver);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_keyboard_alone_reaches_a_row_connects_and_disconnects_it() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let row = row_selector(env.name, env.profile, env.region);
    wait_for_rows_and_bastions(&client, &row).await;

    // Tab from the start of the window to the list: every stop shows where the focus is.
    let ring = r#"
        const el = document.activeElement;
        const s = getComputedStyle(el);
        return (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0)
            || s.boxShadow !== "none";
    "#;
    let mut stops = Vec::new();
    loop {
        press(&client, &[], Key::Tab.into()).await;
        let now = focused(&client).await;
        assert_ne!(now, "body", "Tab lost the focus after {stops:?}");
        let visible = client.execute(ring, Vec::new()).await.expect("focus style");
        assert_eq!(visible, Value::Bool(true), "no focus ring on {now}");
        if now.starts_with("tr#env-row[") {
            break;
        }
        stops.push(now);
        assert!(
            stops.len() < 30,
            "the list is not reachable with Tab: {stops:?}"
        );
    }
    eprintln!("Tab stops before the list: {stops:?}");

    // Arrows move through the rows to orders-prod.
    let names = airgate_e2e::row_names(&client).await;
    let target = names
        .iter()
        .position(|n| n == env.name)
        .expect("orders-prod listed");
    assert_eq!(focused(&client).await, format!("tr#env-row[{}]", names[0]));
    for name in &names[1..=target] {
        press(&client, &[], Key::Down.into()).await;
        assert_eq!(focused(&client).await, format!("tr#env-row[{name}]"));
    }
    // Up and down again: the focus stays on the rows.
    if target > 0 {
        press(&client, &[], Key::Up.into()).await;
        assert_eq!(
            focused(&client).await,
            format!("tr#env-row[{}]", names[target - 1])
        );
        press(&client, &[], Key::Down.into()).await;
        assert_eq!(focused(&client).await, format!("tr#env-row[{}]", env.name));
    }

    // Into the row: its star, its name (the details), the bastion, Connect.
    press(&client, &[], Key::Tab.into()).await;
    assert_eq!(
        focused(&client).await,
        format!("button#favourite[{}]", env.name)
    );
    press(&client, &[], Key::Tab.into()).await;
    assert_eq!(
        focused(&client).await,
        format!("button#env-details-button[{}]", env.name)
    );
    press(&client, &[], Key::Tab.into()).await;
    assert_eq!(
        focused(&client).await,
        format!("select#bastion-select[{}]", env.name)
    );
    press(&client, &[], Key::Tab.into()).await;
    assert_eq!(
        focused(&client).await,
        format!("button#connect[{}]", env.name)
    );

    // Enter connects; the focus moves to Disconnect, which replaced Connect.
    press(&client, &[], Key::Enter.into()).await;
    let want = format!("button#disconnect[{}]", env.name);
    assert_eq!(wait_for_focus(&client, &want).await, want);
    wait_for_tunnel(&client, &row, "connected").await;
    assert_eq!(
        focused(&client).await,
        want,
        "still on Disconnect once connected"
    );
    let announced = client
        .execute(
            r#"return document.querySelector('[data-testid="announcer"]').textContent;"#,
            Vec::new(),
        )
        .await
        .expect("live region");
    assert!(
        announced
            .as_str()
            .unwrap_or_default()
            .contains("orders-prod: connected, port"),
        "the live region says it: {announced}"
    );
    let status = client
        .execute(
            r#"return document.querySelector('[data-testid="status-line"]').dataset.status;"#,
            Vec::new(),
        )
        .await
        .expect("status line");
    assert_eq!(
        status, "connected",
        "the status line's icon follows the tunnel"
    );

    // Enter disconnects; the focus goes back to Connect.
    press(&client, &[], Key::Enter.into()).await;
    wait_for_tunnel(&client, &row, "disconnected").await;
    let want = format!("button#connect[{}]", env.name);
    assert_eq!(wait_for_focus(&client, &want).await, want);
    airgate_e2e::screenshot(&client, "keyboard").await;

    // Shift+Tab back to the row, Enter on it opens its menu's primary action: Open.
    for _ in 0..4 {
        press(&client, &[Key::Shift], Key::Tab.into()).await;
    }
    assert_eq!(focused(&client).await, format!("tr#env-row[{}]", env.name));

    // Esc closes the bastion form and the focus goes back to the button that opened it.
    client
        .execute(
            r#"[...document.querySelectorAll("header button")]
                .find((b) => b.textContent.trim() === "Add bastion").focus();"#,
            Vec::new(),
        )
        .await
        .expect("focus Add bastion");
    press(&client, &[], Key::Enter.into()).await;
    let first_field = wait_for_focus(&client, "input").await;
    assert_eq!(first_field, "input", "the form's first field has the focus");
    press(&client, &[], Key::Escape.into()).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while client
        .find(fantoccini::Locator::Css(r#"[data-testid="bastion-form"]"#))
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "Esc did not close the bastion form"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(focused(&client).await, "button", "back on Add bastion");

    // Its own validation, no engine bubble: an empty Save says what is missing, in the form.
    press(&client, &[], Key::Enter.into()).await;
    wait_for_focus(&client, "input").await;
    client
        .execute(
            r#"document.querySelector('[data-testid="bastion-form"] [name="name"]').value = "";
               document.querySelector('[data-testid="bastion-form"] button[type="submit"]').click();"#,
            Vec::new(),
        )
        .await
        .expect("submit an empty form");
    let errors = client
        .execute(
            r#"return [...document.querySelectorAll('[data-testid="bastion-form"] .field-error')]
                .map((e) => e.textContent);"#,
            Vec::new(),
        )
        .await
        .expect("field errors");
    assert!(
        errors.to_string().contains("Name is needed."),
        "inline messages: {errors}"
    );
    press(&client, &[], Key::Escape.into()).await;

    // A dialog (the close question) takes the focus, keeps it, and Esc closes it: the window
    // stays, the focus is back where it was.
    let before = focused(&client).await;
    let pid = driver.app_pid();
    let windows = airgate_e2e::x_windows(pid, "Airgate", false);
    let open_dialog = r#"return !!document.querySelector('[data-testid="close-dialog"][data-state="open"]')
        && !!document.activeElement.closest('[data-testid="close-dialog"]');"#;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            airgate_e2e::request_close(&windows),
            "press the close button"
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        let asked = client
            .execute(open_dialog, Vec::new())
            .await
            .expect("dialog");
        if asked == Value::Bool(true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the close question did not take the focus"
        );
    }
    press(&client, &[], Key::Tab.into()).await;
    let inside = client
        .execute(open_dialog, Vec::new())
        .await
        .expect("dialog");
    assert_eq!(inside, Value::Bool(true), "Tab stays in the dialog");
    press(&client, &[], Key::Escape.into()).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while client
        .find(fantoccini::Locator::Css(r#"[data-testid="close-dialog"]"#))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "Esc did not close the dialog");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(focused(&client).await, before, "the focus is back");

    // Ctrl+R refreshes the list and does not reload the page; Ctrl+, opens Settings.
    client
        .execute("window.__notReloaded = true;", Vec::new())
        .await
        .expect("mark the page");
    press(&client, &[Key::Control], 'r').await;
    press(&client, &[], Key::F5.into()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = client
        .execute("return window.__notReloaded === true;", Vec::new())
        .await
        .expect("read the mark");
    assert_eq!(kept, Value::Bool(true), "Ctrl+R or F5 reloaded the page");
    press(&client, &[Key::Control], ',').await;
    let settings = client
        .execute(
            r#"return document.querySelector('[data-testid="nav-settings"]')
                .getAttribute("aria-current");"#,
            Vec::new(),
        )
        .await
        .expect("current section");
    assert_eq!(settings, "page", "Ctrl+, shows Settings");

    client.close().await.expect("close the app");
    drop(driver);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_right_click_shows_the_rows_own_menu_and_never_the_engines() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let row = row_selector(env.name, env.profile, env.region);
    wait_for_rows_and_bastions(&client, &row).await;

    // A right-click on the row's name, with the mouse as WebDriver moves it.
    let name = client
        .find(fantoccini::Locator::Css(&format!("{row} .name")))
        .await
        .expect("the row's name");
    {
        use fantoccini::actions::{InputSource, MOUSE_BUTTON_RIGHT, MouseActions, PointerAction};
        let mouse = MouseActions::new("mouse".to_owned())
            .then(PointerAction::MoveToElement {
                element: name.clone(),
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_RIGHT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_RIGHT,
            });
        client.perform_actions(mouse).await.expect("right-click");
    }
    let items_js = r#"
        const menu = document.querySelector('[data-testid="row-menu"]');
        return menu ? [...menu.querySelectorAll('[role="menuitem"]')]
            .map((i) => i.textContent.trim()) : null;
    "#;
    let deadline = Instant::now() + Duration::from_secs(5);
    let items = loop {
        let items = client
            .execute(items_js, Vec::new())
            .await
            .expect("menu items");
        if !items.is_null() || Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let items: Vec<String> = items
        .as_array()
        .unwrap_or_else(|| panic!("no row menu after a right-click on {}", env.name))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(items[0], "Open", "{items:?}");
    assert!(
        items.iter().any(|i| i.starts_with("Connect through ")),
        "{items:?}"
    );
    assert!(items.contains(&"Copy URL".to_owned()), "{items:?}");
    airgate_e2e::screenshot(&client, "row-menu").await;

    // The keyboard is in the menu: down to Connect, Enter runs it, the focus is back on the row.
    press(&client, &[], Key::Down.into()).await;
    press(&client, &[], Key::Enter.into()).await;
    wait_for_tunnel(&client, &row, "connected").await;
    assert_eq!(
        wait_for_focus(&client, &format!("tr#env-row[{}]", env.name)).await,
        format!("tr#env-row[{}]", env.name)
    );
    assert!(
        client
            .execute(items_js, Vec::new())
            .await
            .expect("menu")
            .is_null(),
        "the menu closed"
    );

    // The Menu key (Shift+F10) opens it from the keyboard; a connected row offers Disconnect
    // and Copy proxy; Esc closes it.
    press(&client, &[Key::Shift], Key::F10.into()).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let items = loop {
        let items = client
            .execute(items_js, Vec::new())
            .await
            .expect("menu items");
        if !items.is_null() || Instant::now() > deadline {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = items.to_string();
    assert!(
        text.contains("Disconnect") && text.contains("Copy proxy"),
        "{text}"
    );
    press(&client, &[], Key::Escape.into()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        client
            .execute(items_js, Vec::new())
            .await
            .expect("menu")
            .is_null(),
        "Esc closed the menu"
    );
    click_when_ready(&client, &format!(r#"{row} [data-testid="disconnect"]"#)).await;
    wait_for_tunnel(&client, &row, "disconnected").await;

    // Anywhere else the engine's menu is refused; in a text field it stays.
    let prevented = r#"
        const ev = new MouseEvent("contextmenu", { bubbles: true, cancelable: true });
        arguments[0].dispatchEvent(ev);
        return ev.defaultPrevented;
    "#;
    let heading = client
        .find(fantoccini::Locator::Css("h1"))
        .await
        .expect("the heading");
    let on_heading = client
        .execute(
            prevented,
            vec![serde_json::to_value(&heading).expect("element")],
        )
        .await
        .expect("contextmenu on the heading");
    assert_eq!(
        on_heading,
        Value::Bool(true),
        "no engine menu on the chrome"
    );
    let chrome = client
        .execute(
            r#"return getComputedStyle(document.querySelector("h1")).userSelect
                || getComputedStyle(document.querySelector("h1")).webkitUserSelect;"#,
            Vec::new(),
        )
        .await
        .expect("user-select");
    assert_eq!(chrome, "none", "the interface is not selectable text");

    client.close().await.expect("close the app");
    drop(driver);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_palette_finds_an_environment_by_name_and_connects_it() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let row = row_selector(env.name, env.profile, env.region);
    wait_for_rows_and_bastions(&client, &row).await;
    let id = format!("{}/{}/{}", env.profile, env.region, env.name);
    let selected = r#"
        const item = document.querySelector('[data-testid="palette"] [data-selected]');
        return item ? item.dataset.action : null;
    "#;

    for (typed, action, state) in [
        ("orders-prod connect", format!("connect {id}"), "connected"),
        (
            "orders-prod disconnect",
            format!("disconnect {id}"),
            "disconnected",
        ),
    ] {
        press(&client, &[Key::Control], 'k').await;
        assert_eq!(
            wait_for_focus(&client, "input#palette-input").await,
            "input#palette-input",
            "Ctrl+K puts the focus in the palette"
        );
        client
            .active_element()
            .await
            .expect("the palette's field")
            .send_keys(typed)
            .await
            .expect("type");
        let deadline = Instant::now() + Duration::from_secs(5);
        let first = loop {
            let now = client
                .execute(selected, Vec::new())
                .await
                .expect("selected");
            if now.as_str() == Some(action.as_str()) || Instant::now() > deadline {
                break now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(first.as_str(), Some(action.as_str()), "typed {typed:?}");
        airgate_e2e::screenshot(&client, "palette").await;
        press(&client, &[], Key::Enter.into()).await;
        wait_for_tunnel(&client, &row, state).await;
        assert!(
            client
                .find(fantoccini::Locator::Css(r#"[data-testid="palette"]"#))
                .await
                .is_err(),
            "the palette closed"
        );
    }

    client.close().await.expect("close the app");
    drop(driver);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_fits_the_smallest_window_without_sideways_scrolling() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let row = row_selector(env.name, env.profile, env.region);
    wait_for_rows_and_bastions(&client, &row).await;
    // A tunnel up, so the Tunnels screen has a row with its numbers.
    click_when_ready(&client, &connect_selector(&row)).await;
    wait_for_tunnel(&client, &row, "connected").await;

    let overflow = r#"
        const doc = document.documentElement;
        const main = document.querySelector("main");
        return [doc.scrollWidth - doc.clientWidth, main.scrollWidth - main.clientWidth];
    "#;
    for (width, height) in [(720, 480), (1920, 1080)] {
        resize(&client, width, height).await;
        for section in airgate_e2e::SECTIONS {
            airgate_e2e::show_section(&client, section).await;
            let what = format!("{section} at {width}x{height}");
            airgate_e2e::screenshot(&client, &format!("screen-{section}-{width}x{height}")).await;
            let seen = client.execute(overflow, Vec::new()).await.expect("measure");
            assert_eq!(seen, serde_json::json!([0, 0]), "{what} scrolls sideways");
        }
    }

    client.close().await.expect("close the app");
    drop(driver);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tab_stop_of_every_screen_shows_the_focus() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    let row = row_selector(env.name, env.profile, env.region);
    wait_for_rows_and_bastions(&client, &row).await;
    click_when_ready(&client, &connect_selector(&row)).await;
    wait_for_tunnel(&client, &row, "connected").await;

    let ring = r#"
        const el = document.activeElement;
        if (!el || el === document.body) return "lost";
        const s = getComputedStyle(el);
        const shown = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0)
            || s.boxShadow !== "none";
        return shown ? "ok" : "no ring";
    "#;
    for section in airgate_e2e::SECTIONS {
        airgate_e2e::show_section(&client, section).await;
        // From the section's own button round the whole window and back to it.
        let start = format!("button#nav-{section}");
        assert_eq!(focused(&client).await, start);
        let mut stops = Vec::new();
        loop {
            press(&client, &[], Key::Tab.into()).await;
            let now = focused(&client).await;
            if now == start {
                break;
            }
            let shown = client.execute(ring, Vec::new()).await.expect("focus style");
            assert_eq!(shown, "ok", "{section}: {now} after {stops:?}");
            stops.push(now);
            assert!(
                stops.len() < 120,
                "{section}: Tab never came back: {stops:?}"
            );
        }
        eprintln!("{section}: {} stops", stops.len());
    }

    client.close().await.expect("close the app");
    drop(driver);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_comes_back_at_the_size_it_was_left() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let env = sandbox.environment("orders-prod").expect("seeded").clone();
    wait_for_rows_and_bastions(&client, &row_selector(env.name, env.profile, env.region)).await;
    resize(&client, 900, 640).await;

    // Quit through the close question: the size is kept in the data directory.
    let pid = driver.app_pid();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let windows = airgate_e2e::x_windows(pid, "Airgate", false);
        assert!(
            airgate_e2e::request_close(&windows),
            "press the close button"
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        if client
            .find(fantoccini::Locator::Css(r#"[data-testid="quit-now"]"#))
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the close question did not come");
    }
    click_when_ready(&client, r#"[data-testid="quit-now"]"#).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !driver.app_pids("airgate-desktop").is_empty() {
        assert!(Instant::now() < deadline, "Quit did not end the app");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(client);
    drop(driver);
    let saved = std::fs::read_to_string(sandbox.data_dir().join("window-state.json"))
        .expect("window-state.json in the data directory");
    assert!(saved.contains("\"width\": 900"), "{saved}");

    // The next start opens at that size.
    let driver = airgate_e2e::TauriDriver::start(&sandbox.app_env()).expect("tauri-driver");
    let client = driver
        .launch(&airgate_e2e::app_binary().expect("desktop binary"))
        .await
        .expect("launch the app again");
    let size = client
        .execute("return [innerWidth, innerHeight];", Vec::new())
        .await
        .expect("the window's size");
    assert_eq!(size, serde_json::json!([900, 640]), "{saved}");

    client.close().await.expect("close the app");
    drop(driver);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sidebar_is_one_tab_stop_and_the_arrows_move_between_its_sections() {
    if !display_or_skip() {
        return;
    }
    let sandbox = Sandbox::start(Topology::Loopback).await.expect("sandbox");
    let (driver, client) = airgate_e2e::launch_on(&sandbox).await;
    let current = r#"return document.querySelector('[aria-current="page"]').dataset.testid;"#;
    click_when_ready(&client, r#"[data-testid="nav-environments"]"#).await;
    assert_eq!(
        wait_for_focus(&client, "button#nav-environments").await,
        "button#nav-environments"
    );

    // Down goes through every section and round to the first; Up, End and Home too.
    for section in airgate_e2e::SECTIONS.iter().cycle().skip(1).take(6) {
        press(&client, &[], Key::Down.into()).await;
        assert_eq!(focused(&client).await, format!("button#nav-{section}"));
    }
    press(&client, &[], Key::Up.into()).await;
    assert_eq!(focused(&client).await, "button#nav-settings");
    press(&client, &[], Key::Home.into()).await;
    assert_eq!(focused(&client).await, "button#nav-environments");
    press(&client, &[], Key::End.into()).await;
    assert_eq!(focused(&client).await, "button#nav-settings");

    // The arrows move the focus, not the screen; Enter shows the section.
    press(&client, &[], Key::Home.into()).await;
    press(&client, &[], Key::Down.into()).await;
    press(&client, &[], Key::Down.into()).await;
    assert_eq!(focused(&client).await, "button#nav-keys");
    let shown = client.execute(current, Vec::new()).await.expect("current");
    assert_eq!(shown, "nav-environments", "still on Environments");
    press(&client, &[], Key::Enter.into()).await;
    airgate_e2e::wait_for_text(&client, "main h1", &["Keys"]).await;
    let shown = client.execute(current, Vec::new()).await.expect("current");
    assert_eq!(shown, "nav-keys");

    // One Tab stop: Tab leaves the sidebar for the screen, Shift+Tab comes back to Keys.
    press(&client, &[], Key::Tab.into()).await;
    let next = focused(&client).await;
    assert!(
        !next.starts_with("button#nav-"),
        "Tab stayed in the sidebar: {next}"
    );
    press(&client, &[Key::Shift], Key::Tab.into()).await;
    assert_eq!(focused(&client).await, "button#nav-keys");

    client.close().await.expect("close the app");
    drop(driver);
}
