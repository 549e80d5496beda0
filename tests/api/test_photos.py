"""Photos as evidence: signed URLs loaded without a token, thumbnails without EXIF and upright, the capture
time and position kept and compared with the check-in (photo_far / photo_stale), who gets URLs, and the two
storage backends (a local directory; S3 through a real moto server on localhost)."""

from __future__ import annotations

import io
import socket
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from moto.server import ThreadedMotoServer
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import func, select

from app import clock, db
from app.org.models import OrgKind, Role
from app.uploads import storage, urls
from app.uploads.models import Upload
from app.visits.schemas import TeamDaySchema, VisitPageSchema
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers, image_bytes

SHOP = (30.2585, 120.1700)  # West Lake, Hangzhou
RED, BLUE = (220, 20, 20), (20, 20, 220)


def north_of_shop(metres: float) -> tuple[float, float]:
    return SHOP[0] + metres / 110_900, SHOP[1]


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10_000)
    return IFDRational(degrees), IFDRational(minutes), IFDRational(seconds, 10_000)


def phone_photo(
    size: tuple[int, int] = (80, 40),
    *,
    orientation: int | None = None,
    taken: datetime | None = None,
    offset: str | None = "+08:00",
    at: tuple[float, float] | None = None,
    fmt: str = "JPEG",
) -> bytes:
    """A photo as a phone writes it: left half red, right half blue, with the EXIF asked for."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Model X serial 1234"
    if orientation:
        exif[0x0112] = orientation
    if taken is not None:
        exif[0x8769] = {0x9003: taken.strftime("%Y:%m:%d %H:%M:%S"), **({0x9011: offset} if offset else {})}
    if at is not None:
        exif[0x8825] = {1: "N", 2: _dms(at[0]), 3: "E", 4: _dms(at[1])}
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
def area(session):
    tenant = TenantFactory()
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM, name="West Lake")
    other_team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM, name="Binjiang")
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    bd = UserFactory(tenant=tenant, role=Role.BD, org_unit_id=team.id, manager_id=manager.id)
    colleague = UserFactory(tenant=tenant, role=Role.BD, org_unit_id=team.id, manager_id=manager.id)
    other_manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=other_team.id)
    other_bd = UserFactory(tenant=tenant, role=Role.BD, org_unit_id=other_team.id, manager_id=other_manager.id)
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    other_tenant = TenantFactory()
    stranger = UserFactory(tenant=other_tenant, role=Role.ADMIN)
    shop = MerchantFactory(tenant=tenant, name="外婆家", lat=SHOP[0], lng=SHOP[1])
    return {
        "tenant": tenant,
        "manager": manager,
        "bd": bd,
        "colleague": colleague,
        "other_manager": other_manager,
        "other_bd": other_bd,
        "ops": ops,
        "stranger": stranger,
        "shop": shop,
    }


@pytest.fixture
def photo_dir(app, tmp_path):
    """A local photo store of this test's own, so that "nothing stored" can be checked."""
    previous = app.extensions["photo_storage"]
    app.extensions["photo_storage"] = storage.LocalStorage(tmp_path)
    yield tmp_path
    app.extensions["photo_storage"] = previous


def stored_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def upload(client, user, data, name="photo.jpg"):
    return client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(data), name)},
        headers=auth_headers(user),
        content_type="multipart/form-data",
    )


def check_in(client, user, area, photo_ids, *, at=SHOP, client_time=None):
    payload = {
        "merchant_id": area["shop"].id,
        "lat": at[0],
        "lng": at[1],
        "accuracy_m": 10,
        "client_time": (client_time or clock.now()).isoformat(),
        "photo_ids": photo_ids,
    }
    headers = {**auth_headers(user), "Idempotency-Key": str(uuid.uuid4())}
    response = client.post("/api/v1/visits", json=payload, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def path_of(url: str, **replace: str) -> tuple[str, dict[str, str]]:
    """The path and query of an absolute URL, with query values replaced (to tamper with it)."""
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(replace)
    return parts.path, query


def fetch(client, url: str, **replace: str):
    path, query = path_of(url, **replace)
    return client.get(f"{path}?{urlencode(query)}")  # no Authorization header


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- fetching through signed URLs ---------------------------------------------------------------------


def test_a_signed_url_loads_the_photo_without_a_token_upright_and_without_exif(client, area, photo_dir):
    taken = clock.now().replace(microsecond=0) - timedelta(hours=1)
    original = phone_photo((800, 400), orientation=6, taken=taken.astimezone(), at=north_of_shop(30))
    answer = upload(client, area["bd"], original)
    assert answer.status_code == 201, answer.json

    photo = fetch(client, answer.json["url"])
    assert photo.status_code == 200, photo.get_data(as_text=True)
    assert photo.mimetype == "image/jpeg"
    assert photo.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "private" in photo.headers["Cache-Control"]
    image = open_image(photo.data)
    assert image.size == (400, 800)  # orientation 6 applied: the phone held upright
    assert not image.getexif()
    assert b"PhoneMaker" not in photo.data and b"serial" not in photo.data
    # the left (red) half of the sensor image is the top half once rotated 90 degrees clockwise
    assert image.getpixel((200, 100))[0] > 180 and image.getpixel((200, 700))[2] > 180

    thumbnail = fetch(client, answer.json["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    small = open_image(thumbnail.data)
    assert small.size == (160, 320)
    assert not small.getexif() and b"PhoneMaker" not in thumbnail.data
    assert small.getpixel((80, 40))[0] > 180 and small.getpixel((80, 280))[2] > 180


def test_the_capture_time_and_position_are_kept_before_the_exif_goes(client, area, photo_dir):
    taken = datetime(2026, 11, 20, 10, 0, 0)
    lat, lng = north_of_shop(30)
    answer = upload(client, area["bd"], phone_photo(taken=taken, offset="+08:00", at=(lat, lng))).json
    row = db.session.get(Upload, uuid.UUID(answer["id"]))
    assert row.taken_at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert row.taken_lat == pytest.approx(lat, abs=1e-6) and row.taken_lng == pytest.approx(lng, abs=1e-6)
    assert answer["taken_at"].startswith("2026-11-20T02:00:00")
    assert (row.width, row.height) == (80, 40)
    # without OffsetTimeOriginal the time is the business line's local time (Asia/Shanghai by default)
    answer = upload(client, area["bd"], phone_photo(taken=taken, offset=None)).json
    assert db.session.get(Upload, uuid.UUID(answer["id"])).taken_at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    # a photo without EXIF (a messenger stripped it) is simply unknown
    answer = upload(client, area["bd"], image_bytes("PNG")).json
    assert (answer["taken_at"], answer["taken_lat"], answer["taken_lng"]) == (None, None, None)


def test_a_heic_photo_keeps_its_capture_facts(client, area, photo_dir):
    taken = datetime(2026, 11, 20, 10, 0, 0)
    answer = upload(client, area["bd"], phone_photo(taken=taken, offset="+08:00", at=SHOP, fmt="HEIF")).json
    assert answer["taken_at"].startswith("2026-11-20T02:00:00")
    assert answer["taken_lat"] == pytest.approx(SHOP[0], abs=1e-6)


def test_malformed_exif_is_unknown_not_an_error(client, area, photo_dir):
    image = Image.new("RGB", (32, 32), RED)
    exif = Image.Exif()
    exif[0x8769] = {0x9003: "yesterday-ish", 0x9011: "+99:99"}
    exif[0x8825] = {1: "N", 2: (IFDRational(1, 0), IFDRational(0), IFDRational(0)), 3: "E", 4: (IFDRational(5),)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    answer = upload(client, area["bd"], out.getvalue())
    assert answer.status_code == 201, answer.json
    assert (answer.json["taken_at"], answer.json["taken_lat"], answer.json["taken_lng"]) == (None, None, None)


def test_a_heic_photo_gets_a_jpeg_thumbnail(client, area, photo_dir):
    answer = upload(client, area["bd"], phone_photo((640, 480), fmt="HEIF")).json
    assert answer["content_type"] == "image/jpeg"
    small = open_image(fetch(client, answer["thumbnail_url"]).data)
    assert small.size == (320, 240) and small.format == "JPEG"


@pytest.mark.parametrize(
    "tamper",
    [
        {"signature": "A" * 43},
        {"expires": "9999999999"},  # a longer life than was signed
        {"signature": ""},
    ],
)
def test_a_tampered_url_is_refused(client, area, photo_dir, tamper):
    answer = upload(client, area["bd"], phone_photo()).json
    response = fetch(client, answer["url"], **tamper)
    assert response.status_code in (403, 422), response.json
    assert response.json["error_code"] in ("PHOTO_URL_INVALID", "VALIDATION_ERROR")
    if tamper.get("signature") != "":
        assert response.json["error_code"] == "PHOTO_URL_INVALID"


def test_a_signature_is_bound_to_its_photo_and_variant(client, area, photo_dir):
    first = upload(client, area["bd"], phone_photo((80, 40))).json
    second = upload(client, area["bd"], phone_photo((40, 80))).json
    path, query = path_of(first["url"])
    other_path, _ = path_of(second["url"])
    assert client.get(other_path, query_string=query).json["error_code"] == "PHOTO_URL_INVALID"
    assert client.get(f"{path}/thumbnail", query_string=query).json["error_code"] == "PHOTO_URL_INVALID"
    assert client.get(path, query_string=query).status_code == 200


def test_an_expired_url_is_refused(client, area, photo_dir, app, monkeypatch):
    answer = upload(client, area["bd"], phone_photo()).json
    expires_at = datetime.fromisoformat(answer["expires_at"])
    lifetime = expires_at - clock.now()
    ttl = timedelta(seconds=app.config["PHOTO_URL_TTL_SECONDS"])
    assert ttl <= lifetime <= ttl * 1.1 + timedelta(minutes=1)
    monkeypatch.setattr(clock, "now", lambda: expires_at + timedelta(seconds=1))
    for url in (answer["url"], answer["thumbnail_url"]):
        response = fetch(client, url)
        assert response.status_code == 403 and response.json["error_code"] == "PHOTO_URL_EXPIRED"


def test_urls_start_with_the_configured_public_origin(client, area, photo_dir, app, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_URL_BASE", "https://photos.example.com/")
    answer = upload(client, area["bd"], phone_photo()).json
    assert answer["url"].startswith(f"https://photos.example.com/api/v1/photos/{answer['id']}?")
    assert fetch(client, answer["url"]).status_code == 200


def test_a_valid_url_for_a_missing_photo_is_404(client, app, photo_dir):
    photo_id = uuid.uuid4()
    with app.test_request_context():
        (links,) = urls.photo_links([photo_id])
    response = fetch(client, links["url"])
    assert response.status_code == 404 and response.json["error_code"] == "PHOTO_NOT_FOUND"


def test_an_upload_from_before_thumbnails_gets_one_made_on_first_fetch(client, area, photo_dir):
    answer = upload(client, area["bd"], phone_photo((900, 300))).json
    (thumbnail,) = photo_dir.glob("thumbnails/*/*.jpg")
    thumbnail.unlink()
    response = fetch(client, answer["thumbnail_url"])
    assert response.status_code == 200 and open_image(response.data).size == (320, 107)
    assert thumbnail.exists()


# --- who gets URLs --------------------------------------------------------------------------------------


def photo_urls_in_visits(client, viewer, **params) -> list[str]:
    response = client.get("/api/v1/visits", query_string=params, headers=auth_headers(viewer))
    assert response.status_code == 200, response.json
    VisitPageSchema().load(response.json)
    return [photo["url"] for item in response.json["items"] for photo in item["photos"]]


def detail_photos(client, viewer, area) -> tuple[int, list[dict]]:
    response = client.get(f"/api/v1/merchants/{area['shop'].id}", headers=auth_headers(viewer))
    assert response.status_code == 200, response.json
    (visit,) = response.json["visits"]["recent"]
    return visit["photo_count"], visit["photos"]


def test_only_those_who_may_see_the_visit_get_photo_urls(client, area, photo_dir):
    photo = upload(client, area["bd"], phone_photo()).json["id"]
    check_in(client, area["bd"], area, [photo])

    for viewer in ("bd", "manager", "ops"):
        (url,) = photo_urls_in_visits(client, area[viewer])
        assert fetch(client, url).status_code == 200
        count, photos = detail_photos(client, area[viewer], area)
        assert count == 1 and [p["id"] for p in photos] == [photo]
        assert fetch(client, photos[0]["thumbnail_url"]).status_code == 200
    # a colleague and another team's manager see the visit in the merchant's history, not its photos
    for viewer in ("colleague", "other_manager", "other_bd"):
        assert photo_urls_in_visits(client, area[viewer]) == []
        assert detail_photos(client, area[viewer], area) == (1, [])
    response = client.get(
        "/api/v1/visits", query_string={"user_id": area["bd"].id}, headers=auth_headers(area["other_manager"])
    )
    assert response.status_code == 403 and response.json["error_code"] == "NOT_IN_SCOPE"
    # another business line: no visit, no merchant
    assert photo_urls_in_visits(client, area["stranger"]) == []
    response = client.get(f"/api/v1/merchants/{area['shop'].id}", headers=auth_headers(area["stranger"]))
    assert response.status_code == 404
    response = client.get("/api/v1/team/visits", headers=auth_headers(area["other_manager"]))
    assert all(member["visits"] == [] for member in response.json["members"])


# --- photo_far / photo_stale --------------------------------------------------------------------------


def test_photo_far_and_photo_stale_flag_the_visit_for_the_manager(client, area, photo_dir):
    now = clock.now().replace(microsecond=0)
    local = now.astimezone(area["tenant"].zone).replace(tzinfo=None)
    near_fresh = upload(client, area["bd"], phone_photo(taken=local - timedelta(hours=1), offset=None, at=SHOP))
    far = upload(client, area["bd"], phone_photo(taken=local, offset=None, at=north_of_shop(800)))
    stale = upload(client, area["bd"], phone_photo(taken=local - timedelta(hours=13), offset=None, at=SHOP))
    unknown = upload(client, area["bd"], image_bytes("JPEG"))

    def flags_of(*answers):
        return check_in(client, area["bd"], area, [a.json["id"] for a in answers], client_time=now)

    clean = flags_of(near_fresh, unknown)
    assert clean["flags"] == [] and clean["verified"] is True
    flagged = flags_of(far)
    assert flagged["flags"] == ["photo_far"] and flagged["verified"] is True
    assert flags_of(stale)["flags"] == ["photo_stale"]
    assert flags_of(near_fresh, far, stale)["flags"] == ["photo_far", "photo_stale"]

    team = client.get("/api/v1/team/visits", headers=auth_headers(area["manager"]))
    assert team.status_code == 200, team.json
    TeamDaySchema().load(team.json)
    (member,) = [m for m in team.json["members"] if m["user"]["id"] == area["bd"].id]
    assert member["flags"] == {"photo_far": 2, "photo_stale": 2}
    assert [v["flags"] for v in member["visits"]] == [[], ["photo_far"], ["photo_stale"], ["photo_far", "photo_stale"]]
    assert [len(v["photos"]) for v in member["visits"]] == [2, 1, 1, 3]
    assert fetch(client, member["visits"][1]["photos"][0]["url"]).status_code == 200


def test_photo_thresholds_are_tenant_settings(client, area, photo_dir):
    admin = UserFactory(tenant=area["tenant"], role=Role.ADMIN)
    response = client.patch(
        "/api/v1/tenant/settings",
        json={"checkin": {"photo_max_distance_m": 2000, "photo_max_age_hours": 48}},
        headers=auth_headers(admin),
    )
    assert response.status_code == 200, response.json
    now = clock.now().replace(microsecond=0)
    local = now.astimezone(area["tenant"].zone).replace(tzinfo=None)
    photo = upload(
        client, area["bd"], phone_photo(taken=local - timedelta(hours=13), offset=None, at=north_of_shop(800))
    )
    assert check_in(client, area["bd"], area, [photo.json["id"]], client_time=now)["flags"] == []


# --- refused files leave nothing behind -------------------------------------------------------------


def bomb(width: int, height: int) -> bytes:
    """A small PNG that decodes to width x height pixels (1-bit, so that making it costs little memory)."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, format="PNG")
    return out.getvalue()


REFUSED = {
    "bomb": (lambda: bomb(12_000, 12_000), 413, "PAYLOAD_TOO_LARGE"),  # 144 Mpx: over Pillow's own limit
    "over-60mpx": (lambda: bomb(9_000, 7_000), 413, "PAYLOAD_TOO_LARGE"),  # 63 Mpx: under Pillow's, over ours
    "broken-png": (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, 415, "UNSUPPORTED_MEDIA_TYPE"),
    "pdf": (lambda: b"%PDF-1.7\n" + b"0" * 500, 415, "UNSUPPORTED_MEDIA_TYPE"),
    "over-5mb": (lambda: image_bytes("JPEG") + b"\x00" * (5 * 1024 * 1024), 413, "PAYLOAD_TOO_LARGE"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_files_store_nothing(client, area, photo_dir, case):
    make, status, code = REFUSED[case]
    data = make()
    assert len(data) < 6 * 1024 * 1024
    response = upload(client, area["bd"], data)
    assert response.status_code == status and response.json["error_code"] == code
    assert stored_files(photo_dir) == []
    assert db.session.scalar(select(func.count()).select_from(Upload)) == 0


def test_a_body_over_the_request_limit_is_413_and_stores_nothing(client, area, photo_dir, app):
    data = image_bytes("JPEG") + b"\x00" * app.config["MAX_CONTENT_LENGTH"]
    response = upload(client, area["bd"], data)
    assert response.status_code == 413 and response.json["error_code"] == "PAYLOAD_TOO_LARGE"
    assert stored_files(photo_dir) == []


# --- the S3 backend, against moto's server on localhost ------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a free localhost port: a real HTTP endpoint that boto3 talks to."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_photos(app, s3_endpoint):
    config = {
        "PHOTO_STORAGE": "s3",
        "PHOTO_S3_BUCKET": f"photos-{uuid.uuid4().hex[:12]}",
        "PHOTO_S3_ENDPOINT_URL": s3_endpoint,
        "PHOTO_S3_REGION": "us-east-1",
        "PHOTO_S3_ACCESS_KEY_ID": "testing",
        "PHOTO_S3_SECRET_ACCESS_KEY": "testing",
        "UPLOAD_DIR": "/nonexistent",
    }
    client = storage.s3_client(config)
    client.create_bucket(Bucket=config["PHOTO_S3_BUCKET"])
    previous = app.extensions["photo_storage"]
    app.extensions["photo_storage"] = storage.build(config)
    yield client, config["PHOTO_S3_BUCKET"]
    app.extensions["photo_storage"] = previous


def bucket_keys(client, bucket) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_s3_backend_round_trip_through_a_real_endpoint(client, area, s3_photos):
    s3, bucket = s3_photos
    original = phone_photo((800, 400), orientation=6)
    answer = upload(client, area["bd"], original).json
    digest = answer["sha256"]
    assert bucket_keys(s3, bucket) == [f"{digest[:2]}/{digest}.jpg", f"thumbnails/{digest[:2]}/{digest}.jpg"]
    stored = s3.get_object(Bucket=bucket, Key=f"{digest[:2]}/{digest}.jpg")
    assert stored["ContentType"] == "image/jpeg"
    photo = fetch(client, answer["url"])
    assert photo.status_code == 200 and photo.data == stored["Body"].read()
    assert open_image(photo.data).size == (400, 800)
    assert open_image(fetch(client, answer["thumbnail_url"]).data).size == (160, 320)
    # the same photo again is the same object (content-addressed), a second row
    upload(client, area["bd"], original)
    assert len(bucket_keys(s3, bucket)) == 2
    # a bomb leaves the bucket as it was
    assert upload(client, area["bd"], bomb(12_000, 12_000)).status_code == 413
    assert len(bucket_keys(s3, bucket)) == 2


def test_s3_storage_interface(s3_photos, app):
    s3, bucket = s3_photos
    photos = app.extensions["photo_storage"]
    assert isinstance(photos, storage.S3Storage)
    assert photos.get("ab/missing.jpg") is None and not photos.exists("ab/missing.jpg")
    photos.put("ab/x.jpg", b"bytes", "image/jpeg")
    assert photos.exists("ab/x.jpg") and photos.get("ab/x.jpg") == b"bytes"


def test_storage_is_chosen_by_configuration(tmp_path):
    local = storage.build({"PHOTO_STORAGE": "local", "UPLOAD_DIR": str(tmp_path)})
    assert isinstance(local, storage.LocalStorage)
    with pytest.raises(ValueError):
        local.put("../escape.jpg", b"x", "image/jpeg")
    with pytest.raises(RuntimeError):
        storage.build({"PHOTO_STORAGE": "s3", "PHOTO_S3_BUCKET": ""})
    with pytest.raises(RuntimeError):
        storage.build({"PHOTO_STORAGE": "ftp"})


def test_boto3_client_reads_the_settings(s3_endpoint):
    client = storage.s3_client(
        {
            "PHOTO_S3_ENDPOINT_URL": s3_endpoint,
            "PHOTO_S3_REGION": "eu-west-1",
            "PHOTO_S3_ACCESS_KEY_ID": "k",
            "PHOTO_S3_SECRET_ACCESS_KEY": "s",
        }
    )
    assert client.meta.endpoint_url == s3_endpoint and client.meta.region_name == "eu-west-1"
