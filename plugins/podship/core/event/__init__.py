"""The PoD event: where PoD keeps each fact (`readers`), and each meaning privacy rules name
(`places`). Nothing else in podship knows PoD's event shape."""
