"""The seed-style ingest endpoint riskcast is compared with: one SQLAlchemy ORM insert and one
commit per reading, as the seeds' services did. Run: uvicorn seed_ingest:app (DB from $SEED_DB)."""

from __future__ import annotations

import os
from datetime import datetime

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Float, Integer, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

engine = create_engine(f"sqlite:///{os.environ.get('SEED_DB', 'seed.db')}")


class Base(DeclarativeBase):
    pass


class Reading(Base):
    __tablename__ = "readings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String, index=True)
    variable: Mapped[str] = mapped_column(String)
    time: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)


Base.metadata.create_all(engine)
app = FastAPI()


class ReadingIn(BaseModel):
    site: str
    variable: str
    time: datetime
    value: float


class Batch(BaseModel):
    readings: list[ReadingIn]


@app.post("/api/v1/readings")
def post_readings(batch: Batch) -> dict[str, int]:
    with Session(engine) as session:
        for r in batch.readings:
            session.add(Reading(site=r.site, variable=r.variable, time=r.time, value=r.value))
            session.commit()
    return {"accepted": len(batch.readings)}
