"""Seed 001's `app/blueprints/catalog.py`, the storage part: a product's
image saved as `products/tenant_{id}/{timestamp}_{filename}`, and the old
image deleted when a product is edited with a new one. The product table is
a dict here (the app's PostgreSQL is not what is under test)."""

from __future__ import annotations

import time

from storage_service import get_storage_service


def save_product_image(file, tenant_id: int) -> str:
    timestamp = int(time.time() * 1000)
    object_name = f"products/tenant_{tenant_id}/{timestamp}_{file.filename}"
    storage = get_storage_service()
    return storage.upload_file(file=file, object_name=object_name, content_type=file.content_type)


def edit_product_image(product: dict, file, tenant_id: int) -> dict:
    storage = get_storage_service()
    new_url = save_product_image(file, tenant_id)
    old = product.get("image_path")
    product["image_path"] = new_url
    if old:
        storage.delete_file(storage.object_name_from_url(old))
    return product
