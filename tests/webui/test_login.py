"""Login is required, works through the form with its CSRF token, and sessions end on logout."""

from tests.webui.conftest import PASSWORD, csrf, login


def test_pages_redirect_to_login_when_logged_out(client):
    response = client.get("/dags/anything/grid")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_api_answers_401_json_when_logged_out(client):
    response = client.get("/api/v1/dags")
    assert response.status_code == 401
    assert response.get_json()["status"] == 401


def test_login_with_the_right_password_reaches_the_dags_page(client):
    response = login(client, "viewer")
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client):
    response = login(client, "viewer", "not the password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_without_the_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "viewer", "password": PASSWORD})
    assert response.status_code == 400


def test_after_login_the_next_page_is_only_ever_on_this_site(client):
    token = csrf(client)
    response = client.post(
        "/login?next=https://evil.example/x",
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_logout_is_a_post_and_ends_the_session(logged_in):
    client = logged_in("viewer")
    assert client.get("/logout").status_code == 405
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert client.get("/").status_code == 302


def test_a_bearer_token_authenticates_api_calls_without_a_session(client, token):
    response = client.get("/api/v1/dags", headers={"Authorization": f"Bearer {token('viewer')}"})
    assert response.status_code == 200
    assert client.get("/api/v1/dags", headers={"Authorization": "Bearer wrong"}).status_code == 401
